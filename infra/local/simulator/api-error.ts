/** The provider's error envelope: `{"error":{"message","type","param","code"}}`. */
export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answer the simulator gives on purpose, with its status and envelope fields. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly retryAfterMs: number | null;

  constructor(
    status: number,
    fields: {
      message: string;
      type: string;
      code: string | null;
      param?: string | null;
      retryAfterMs?: number | null;
    },
    options?: ErrorOptions,
  ) {
    super(fields.message, options);
    this.name = 'ApiError';
    this.status = status;
    this.type = fields.type;
    this.param = fields.param ?? null;
    this.code = fields.code;
    this.retryAfterMs = fields.retryAfterMs ?? null;
  }

  toEnvelope(): ErrorEnvelope {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

export const invalidValue = (param: string, message: string, code = 'invalid_value'): ApiError =>
  new ApiError(400, { message, type: 'invalid_request_error', param, code });

export const videoNotFound = (id: string): ApiError =>
  new ApiError(404, {
    message: `Video with id '${id}' not found.`,
    type: 'invalid_request_error',
    param: 'video_id',
    code: 'video_not_found',
  });

export const rateLimited = (message: string, retryAfterMs: number): ApiError =>
  new ApiError(429, {
    message,
    type: 'requests',
    code: 'rate_limit_exceeded',
    retryAfterMs,
  });
