import { fileURLToPath } from 'node:url';

/** Absolute path of the project root (where cdk.json and package-lock.json live). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
