/**
 * Which keys of the videos bucket a request may name as its reference image. Uploads belong to a
 * client: an image sent with a request is stored under `uploads/<client>/`, and a client may name
 * only keys under its own prefix. An admin (and the drop folder, whose files only an operator can
 * write) may name any key under `uploads/`, which is how an operator's `aws s3 cp` uploads are
 * used. A key the caller may not use is answered as a missing one, so its existence, type and
 * size never leak.
 */
import { UPLOADS_PREFIX } from '../media/reference-image.ts';

/** The prefix a client's own uploads live under: `uploads/<client>/`. */
export function clientUploadsPrefix(client: string): string {
  return `${UPLOADS_PREFIX}${client}/`;
}

/** Whether a caller whose uploads live under `prefix` may use `key` (already a valid key). */
export function mayUseUpload(key: string, prefix: string): boolean {
  return prefix.startsWith(UPLOADS_PREFIX) && key.startsWith(prefix);
}

export const MAX_UPLOAD_KEY_LENGTH = 1024;

/**
 * Why `key` is not a plain object name under `uploads/`, or undefined when it is one. Keys are
 * names, not paths: S3 keeps `a/../b` as it is, but emulators, proxies and tools resolve or
 * normalise such segments, escapes and separators, so a key could name another object than it
 * seems to. Refused: empty, `.` and `..` segments, a backslash, a control character, a
 * percent-escape, whitespace.
 */
export function uploadKeyProblem(key: string): string | undefined {
  if (!key.startsWith(UPLOADS_PREFIX)) return 'must be a key under uploads/ in the videos bucket';
  if (key.length > MAX_UPLOAD_KEY_LENGTH) {
    return `must be at most ${MAX_UPLOAD_KEY_LENGTH} characters`;
  }
  // Controls (C0, DEL, C1) first: a message that quotes the key must not carry them.
  if (/\p{Cc}/u.test(key)) return 'must not contain control characters';
  if (/\s/u.test(key)) return 'must not contain whitespace';
  if (key.includes('\\')) return 'must not contain a backslash';
  if (key.includes('%')) return 'must not contain a percent sign (keys are not URL-decoded)';
  const segments = key.split('/');
  if (segments.some((segment) => segment === '')) {
    return 'must not have an empty segment (a leading, doubled or trailing "/")';
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return 'must not have a "." or ".." segment';
  }
  return undefined;
}
