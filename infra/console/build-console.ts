import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildSync } from 'esbuild';

/** The console's sources: index.html, styles.css and src/ (TypeScript, bundled into app.js). */
export const CONSOLE_SOURCE_DIR = fileURLToPath(new URL('../../console', import.meta.url));

/**
 * Bundles the console into `outDir`: index.html, app.js (the TypeScript of `console/src`, minified),
 * app.css and favicon.svg. Synchronous (about 50 ms) because CDK's local asset bundling cannot await.
 */
export function buildConsole(outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const options: BuildOptions = {
    entryPoints: [join(CONSOLE_SOURCE_DIR, 'src/main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  };
  buildSync(options);
  copyFileSync(join(CONSOLE_SOURCE_DIR, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(CONSOLE_SOURCE_DIR, 'styles.css'), join(outDir, 'app.css'));
  copyFileSync(join(CONSOLE_SOURCE_DIR, 'favicon.svg'), join(outDir, 'favicon.svg'));
}
