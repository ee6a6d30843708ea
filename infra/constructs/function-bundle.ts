import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/** The file Lambda loads: `index.handler` in the function's code. */
export const BUNDLE_ENTRY_FILE = 'index.mjs';

/** Where the chunks a function loads on first use (`import()`) are written, in its code. */
export const BUNDLE_CHUNK_DIR = 'chunks';

// ESM bundles of CommonJS dependencies still call require().
const REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/**
 * How every Lambda function is bundled (deployments and bench/cold-start.ts alike): an ESM
 * bundle for Node.js 24, minified, with source maps that carry no sources, the AWS SDK
 * included (the versions we test with are the versions that run), and **code splitting**: the
 * handler module and what it imports statically are in `index.mjs`; each `import()` (and each
 * of the SDK's own, such as the credential providers Lambda never uses) becomes a chunk under
 * `chunks/` that is read and compiled only when it is first imported. A cold start compiles
 * what it runs, not the whole bundle (see docs/architecture.md, "Cold starts").
 */
export function functionBuildOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    outExtension: { '.js': '.mjs' },
    chunkNames: `${BUNDLE_CHUNK_DIR}/[name]-[hash]`,
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_BANNER },
    minify: true,
    sourcemap: true,
    // Maps give stack traces their file:line; the sources themselves need not ship.
    sourcesContent: false,
    logLevel: 'warning',
  };
}

/**
 * Bundles `entry` into `outdir` (synchronous: CDK's local asset bundling cannot await) and
 * answers esbuild's metafile.
 */
export function bundleFunction(entry: string, outdir: string): Metafile {
  const result = buildSync({ ...functionBuildOptions(entry, outdir), metafile: true });
  return result.metafile;
}

/** The JavaScript a bundle ships (entry and chunks, not maps), in bytes. */
export function bundleBytes(outdir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(outdir, { recursive: true, encoding: 'utf8' })) {
    if (entry.endsWith('.mjs')) bytes += statSync(path.join(outdir, entry)).size;
  }
  return bytes;
}
