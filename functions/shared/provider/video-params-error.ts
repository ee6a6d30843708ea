export type VideoParamField = 'model' | 'size' | 'seconds' | 'prompt';

/** Raised when a request's model, size or seconds is not in the catalogue, or its model refuses it. */
export class VideoParamsError extends Error {
  override readonly name = 'VideoParamsError';
  readonly field: VideoParamField;

  constructor(field: VideoParamField, message: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}
