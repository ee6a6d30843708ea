import { ApiError, invalidValue } from './api-error.ts';
import type { ModelCatalogue } from './knobs.ts';
import { isUpload, type UploadedFile } from './request-body.ts';
import type { InputReference } from './video-store.ts';

/** The fields of a create request, checked as the provider checks them. */
export interface CreateFields {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  inputReference: InputReference | null;
}

const createKeys = new Set(['prompt', 'model', 'size', 'seconds', 'input_reference']);
const imageTypes = ['image/jpeg', 'image/png', 'image/webp'];

/** Validates a create body against the model catalogue; the error names the bad parameter. */
export function parseCreateFields(
  body: Record<string, unknown>,
  models: ModelCatalogue,
): CreateFields {
  rejectUnknown(body, createKeys);
  const prompt = requirePrompt(body);
  const [defaultModel] = Object.keys(models);
  const model = optionalString(body, 'model') ?? defaultModel ?? 'sora-2';
  const spec = models[model];
  if (!spec) {
    throw invalidValue(
      'model',
      `Invalid value: '${model}'. Supported values are: ${quoteAll(Object.keys(models))}.`,
    );
  }
  return {
    prompt,
    model,
    size: pick(body, 'size', spec.sizes, model),
    seconds: pick(body, 'seconds', spec.seconds, model),
    inputReference: parseInputReference(body.input_reference),
  };
}

/** Validates a remix body: only a new prompt. */
export function parseRemixPrompt(body: Record<string, unknown>): string {
  rejectUnknown(body, new Set(['prompt']));
  return requirePrompt(body);
}

function rejectUnknown(body: Record<string, unknown>, allowed: Set<string>): void {
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) {
      throw invalidValue(key, `Unknown parameter: '${key}'.`, 'unknown_parameter');
    }
  }
}

function requirePrompt(body: Record<string, unknown>): string {
  const prompt = body.prompt;
  if (prompt === undefined || prompt === null) {
    throw invalidValue(
      'prompt',
      "Missing required parameter: 'prompt'.",
      'missing_required_parameter',
    );
  }
  if (typeof prompt !== 'string') {
    throw invalidValue('prompt', "Invalid type for 'prompt': expected a string.", 'invalid_type');
  }
  if (prompt.trim() === '') {
    throw invalidValue('prompt', "Invalid 'prompt': string must not be empty.");
  }
  return prompt;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw invalidValue(key, `Invalid type for '${key}': expected a string.`, 'invalid_type');
  }
  return value;
}

function pick(body: Record<string, unknown>, key: string, allowed: string[], model: string) {
  const value = optionalString(body, key) ?? allowed[0];
  if (value === undefined || !allowed.includes(value)) {
    throw invalidValue(
      key,
      `Invalid value: '${value}'. Supported values for '${key}' with model '${model}' are: ${quoteAll(allowed)}.`,
    );
  }
  return value;
}

function parseInputReference(value: unknown): InputReference | null {
  if (value === undefined) return null;
  if (isUpload(value)) return uploadedImage(value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { image_url: imageUrl, file_id: fileId, ...rest } = value as Record<string, unknown>;
    const [unknown] = Object.keys(rest);
    if (unknown !== undefined) {
      throw invalidValue(
        `input_reference.${unknown}`,
        `Unknown parameter: 'input_reference.${unknown}'.`,
        'unknown_parameter',
      );
    }
    if (typeof imageUrl === 'string' && fileId === undefined) {
      if (!/^(https?:\/\/\S+|data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+)$/.test(imageUrl)) {
        throw invalidValue(
          'input_reference.image_url',
          "Invalid 'input_reference.image_url': expected an http(s) URL or a base64 data URL of a JPEG, PNG or WebP image.",
        );
      }
      return { kind: 'image_url', imageUrl };
    }
    if (typeof fileId === 'string' && fileId !== '' && imageUrl === undefined) {
      return { kind: 'file_id', fileId };
    }
  }
  throw invalidValue(
    'input_reference',
    "Invalid 'input_reference': upload a JPEG, PNG or WebP file, or give exactly one of image_url or file_id.",
  );
}

function uploadedImage(file: UploadedFile): InputReference {
  const sniffed = sniffImageType(file.head);
  const declared = file.contentType;
  // An untyped part is judged by its bytes; a typed one must also be what it claims.
  const declaredOk = declared === 'application/octet-stream' || declared === sniffed;
  if (sniffed === null || !declaredOk) {
    throw new ApiError(400, {
      message: `Invalid file type for 'input_reference' (${declared}). Supported types: ${imageTypes.join(', ')}.`,
      type: 'invalid_request_error',
      param: 'input_reference',
      code: 'unsupported_file_type',
    });
  }
  return { kind: 'file', contentType: sniffed, bytes: file.bytes, filename: file.filename };
}

function sniffImageType(head: Buffer): (typeof imageTypes)[number] | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    return 'image/jpeg';
  }
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return 'image/png';
  }
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') {
    return 'image/webp';
  }
  return null;
}

const quoteAll = (values: string[]): string => values.map((value) => `'${value}'`).join(', ');
