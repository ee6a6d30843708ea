import type busboy from 'busboy';
import { ValidationError } from '../shared/jobs/job-errors.ts';
import { MAX_REFERENCE_IMAGE_BYTES } from '../shared/media/reference-image.ts';
import { PayloadTooLargeError } from './api-errors.ts';

/** A multipart/form-data request: its text fields and the `input_reference` file, if sent. */
export interface MultipartRequest {
  fields: Record<string, string>;
  file?: { bytes: Buffer; filename: string; contentType: string };
}

const MAX_FIELD_BYTES = 16 * 1024;

/**
 * Parses a multipart POST /videos body (as the `openai` SDK and `curl -F` send it): text fields,
 * and one file, `input_reference`, of at most MAX_REFERENCE_IMAGE_BYTES. Anything else is refused
 * with a ValidationError naming it.
 */
export async function parseMultipart(contentType: string, body: Buffer): Promise<MultipartRequest> {
  // Imported with the first multipart request (a chunk of its own in the bundle): most requests
  // are JSON, and a cold start need not load the parser for them.
  const { default: createParser } = await import('busboy');
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = createParser({
        headers: { 'content-type': contentType },
        limits: {
          fileSize: MAX_REFERENCE_IMAGE_BYTES,
          files: 1,
          fields: 20,
          fieldSize: MAX_FIELD_BYTES,
        },
      });
    } catch (error) {
      reject(
        new ValidationError('body', 'body: a multipart body needs a boundary', { cause: error }),
      );
      return;
    }
    const fields: Record<string, string> = {};
    let file: MultipartRequest['file'];
    let failure: Error | undefined;
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        failure ??= new PayloadTooLargeError(MAX_FIELD_BYTES, `The form field ${name}`);
      }
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'input_reference') {
        failure ??= new ValidationError(name, `${name}: the only file accepted is input_reference`);
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        failure ??= new ValidationError(
          'input_reference',
          `input_reference: the image is over ${MAX_REFERENCE_IMAGE_BYTES} bytes`,
        );
      });
      stream.on('end', () => {
        file = {
          bytes: Buffer.concat(chunks),
          filename: info.filename ?? 'input_reference',
          contentType: info.mimeType,
        };
      });
    });
    parser.on('error', (error: Error) =>
      reject(new ValidationError('body', 'body: not a valid multipart body', { cause: error })),
    );
    parser.on('close', () => {
      if (failure) reject(failure);
      else resolve(file === undefined ? { fields } : { fields, file });
    });
    parser.end(body);
  });
}

/**
 * The JSON request a multipart form stands for: text fields as they are, except `defer`
 * ("true"/"false"), `startTimeoutSeconds` (digits) and `webhook` (JSON text).
 */
export function formToRequest(fields: Record<string, string>): Record<string, unknown> {
  const request: Record<string, unknown> = { ...fields };
  // Anything but digits stays a string, for the request schema to refuse with its own message.
  if (
    fields.startTimeoutSeconds !== undefined &&
    /^[0-9]{1,15}$/.test(fields.startTimeoutSeconds)
  ) {
    request.startTimeoutSeconds = Number(fields.startTimeoutSeconds);
  }
  if (fields.defer !== undefined) {
    if (fields.defer !== 'true' && fields.defer !== 'false') {
      throw new ValidationError('defer', 'defer: must be true or false');
    }
    request.defer = fields.defer === 'true';
  }
  if (fields.webhook !== undefined) {
    try {
      request.webhook = JSON.parse(fields.webhook);
    } catch (error) {
      throw new ValidationError('webhook', 'webhook: must be a JSON object', { cause: error });
    }
  }
  return request;
}
