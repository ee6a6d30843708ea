import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the project root (where cdk.json and package-lock.json live). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * A cache of the local stack's under the project's dependencies (gone with them, never
 * committed): `node_modules/.cache/sora-pipeline/<name>`, or the whole of it without a name.
 */
export function projectCacheDir(projectRoot: string, name = ''): string {
  return join(projectRoot, 'node_modules', '.cache', 'sora-pipeline', name);
}
