/**
 * An error the local AWS endpoint answers as the service would: HTTP status plus the AWS JSON
 * protocol's error `__type`, which the SDK turns into a typed exception (`ExecutionAlreadyExists`,
 * `ResourceNotFoundException`, ...).
 */
export class AwsApiError extends Error {
  override name = 'AwsApiError';
  readonly type: string;
  readonly statusCode: number;

  constructor(type: string, message: string, statusCode = 400) {
    super(message);
    this.type = type;
    this.statusCode = statusCode;
  }
}
