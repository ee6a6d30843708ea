import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type * as z from 'zod/mini';
import { JobNotFoundError, ValidationError } from '../shared/jobs/job-errors.ts';
import { validationErrorOf } from '../shared/jobs/job-request.ts';
import { decodeUtf8 } from '../shared/jobs/prompt-text.ts';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './api-errors.ts';
import { formToRequest, type MultipartRequest, parseMultipart } from './multipart-request.ts';
import { MAX_BODY_BYTES, MAX_MULTIPART_BYTES, type OperationSpec } from './operations.ts';

/** A request as its declaration parsed it (the caller aside), before it is typed per operation. */
export interface ParsedRequest {
  path: Record<string, unknown>;
  headers: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  file?: MultipartRequest['file'];
}

/**
 * Parses a request with its operation's declaration (operations.ts): path parameters, headers,
 * query parameters and body, each with its schema, in that order. Only the parameters the
 * declaration names are read from the event; a bad value throws a ValidationError naming it.
 */
export async function parseRequest(
  event: APIGatewayProxyEventV2,
  spec: OperationSpec,
): Promise<ParsedRequest> {
  const path = parameters(spec.path, (name) => event.pathParameters?.[name], spec.pathMismatch);
  const headers = parameters(spec.headers, (name) => header(event, name));
  // `?status=` is no filter: an empty query value counts as absent (an empty header does not).
  const query = parameters(spec.query, (name) => event.queryStringParameters?.[name] || undefined);
  return { path, headers, query, ...(await body(event, spec)) };
}

/** The parameters a schema names, read one by one, parsed. */
function parameters(
  schema: z.ZodMiniObject | undefined,
  read: (name: string) => string | undefined,
  mismatch?: OperationSpec['pathMismatch'],
): Record<string, unknown> {
  if (schema === undefined) return {};
  const raw: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = read(name);
    if (value !== undefined) raw[name] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  if (mismatch === 'not-found') throw new JobNotFoundError('No job with this id');
  throw validationErrorOf(result.error);
}

async function body(
  event: APIGatewayProxyEventV2,
  spec: OperationSpec,
): Promise<Pick<ParsedRequest, 'body' | 'file'>> {
  if (spec.body === undefined) return { body: undefined };
  const contentType = header(event, 'content-type');
  if (spec.body.multipart === undefined || !/^multipart\/form-data/i.test(contentType ?? '')) {
    return { body: parsed(spec.body.json, readJsonBody(event, contentType)) };
  }
  // The openai SDK's form: fields, and the reference image as the file input_reference.
  const form = await parseMultipart(contentType ?? '', rawBody(event, MAX_MULTIPART_BYTES));
  const request = formToRequest(form.fields);
  if (form.file === undefined) return { body: parsed(spec.body.json, request) };
  if ('input_reference' in request) {
    throw new ValidationError('input_reference', 'input_reference: send a file or a key, not both');
  }
  return { body: parsed(spec.body.json, request), file: form.file };
}

function parsed(schema: z.ZodMiniType, value: unknown): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationErrorOf(result.error);
}

/** A header's value, its name case-insensitive as HTTP's are. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function rawBody(event: APIGatewayProxyEventV2, maxBytes: number): Buffer {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError(maxBytes);
  return bytes;
}

function readJsonBody(event: APIGatewayProxyEventV2, contentType: string | undefined): unknown {
  requireJsonContentType(contentType);
  // Refused as the drop folder refuses a file: a lenient decode would store U+FFFD instead.
  const text = decodeUtf8(rawBody(event, MAX_BODY_BYTES));
  if (text === undefined) throw new ValidationError('body', 'body: is not valid UTF-8');
  if (text.trim() === '') throw new ValidationError('body', 'body: must be a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError('body', 'body: is not valid JSON', { cause: error });
  }
}

/**
 * The body must be declared JSON: `application/json`, with parameters (`; charset=utf-8`) or not,
 * the type case-insensitive as media types are. Anything else (a form, text/plain, no type) is
 * refused before the body is read, so a client never has a body we guessed at accepted.
 */
function requireJsonContentType(contentType: string | undefined): void {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${contentType === undefined ? '(none)' : JSON.stringify(contentType)} is not application/json`,
    );
  }
}
