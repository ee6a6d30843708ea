import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { ApiError } from './api-error.ts';

/** A file part of a multipart body: its size and first bytes (enough to recognise its type). */
export interface UploadedFile {
  kind: 'upload';
  filename: string | null;
  contentType: string;
  bytes: number;
  head: Buffer;
}

const maxJsonBytes = 32 * 1024 * 1024;
const maxFileBytes = 50 * 1024 * 1024;
const headBytes = 16;

/**
 * Reads a JSON, multipart/form-data or urlencoded body into one plain object. Bracketed form
 * keys (`input_reference[image_url]`, as the SDK encodes nested objects) become nested objects.
 */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/form-data')) return readForm(req);
  if (contentType.startsWith('application/x-www-form-urlencoded')) return readForm(req);
  const text = (await readAll(req)).toString('utf8');
  if (text.trim() === '') return {};
  if (contentType !== '' && !contentType.startsWith('application/json')) {
    throw new ApiError(415, {
      message: `Unsupported Content-Type '${contentType}': send application/json or multipart/form-data.`,
      type: 'invalid_request_error',
      code: 'unsupported_content_type',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ApiError(
      400,
      {
        message:
          'We could not parse the JSON body of your request. The body must be a JSON object.',
        type: 'invalid_request_error',
        code: 'invalid_json',
      },
      { cause: error },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, {
      message: 'The request body must be a JSON object.',
      type: 'invalid_request_error',
      code: 'invalid_json',
    });
  }
  return parsed as Record<string, unknown>;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > maxJsonBytes) throw tooLarge('The request body is too large.');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function readForm(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const body: Record<string, unknown> = {};
    const pending: Array<Promise<void>> = [];
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxFileBytes } });
    } catch (error) {
      // busboy refuses a multipart content type without a boundary.
      reject(
        new ApiError(
          400,
          {
            message: 'Malformed multipart/form-data body.',
            type: 'invalid_request_error',
            code: 'invalid_body',
          },
          { cause: error },
        ),
      );
      req.resume();
      return;
    }
    parser.on('field', (name, value) => setField(body, name, value));
    parser.on('file', (name, stream, info) => {
      pending.push(
        new Promise<void>((done, fail) => {
          let bytes = 0;
          const head: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => {
            if (bytes < headBytes) head.push(chunk.subarray(0, headBytes - bytes));
            bytes += chunk.length;
          });
          stream.on('limit', () => fail(tooLarge(`The file '${name}' is too large.`)));
          stream.on('error', fail);
          stream.on('end', () => {
            const file: UploadedFile = {
              kind: 'upload',
              filename: info.filename ?? null,
              contentType: (info.mimeType || 'application/octet-stream').toLowerCase(),
              bytes,
              head: Buffer.concat(head),
            };
            setField(body, name, file);
            done();
          });
        }),
      );
    });
    parser.on('error', (error) =>
      reject(
        new ApiError(
          400,
          {
            message: 'Malformed multipart/form-data body.',
            type: 'invalid_request_error',
            code: 'invalid_body',
          },
          { cause: error },
        ),
      ),
    );
    parser.on('close', () => {
      Promise.all(pending).then(() => resolve(body), reject);
    });
    req.pipe(parser);
  });
}

function setField(body: Record<string, unknown>, name: string, value: unknown): void {
  const nested = /^([^[\]]+)\[([^[\]]+)\]$/.exec(name);
  if (!nested?.[1] || !nested[2]) {
    body[name] = value;
    return;
  }
  const parent = body[nested[1]];
  const object =
    typeof parent === 'object' && parent !== null && !isUpload(parent)
      ? (parent as Record<string, unknown>)
      : {};
  object[nested[2]] = value;
  body[nested[1]] = object;
}

export function isUpload(value: unknown): value is UploadedFile {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'upload';
}

const tooLarge = (message: string): ApiError =>
  new ApiError(413, { message, type: 'invalid_request_error', code: 'request_too_large' });
