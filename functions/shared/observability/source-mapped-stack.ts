/**
 * Source positions in stack traces, read only when an error needs them. A deployed function
 * ships a source map beside each file of its bundle (infra/constructs/function-bundle.ts), but
 * Node's `--enable-source-maps` reads and parses the maps of every file at each cold start, about
 * a tenth of init (bench/cold-start.ts prints both), for traces that only a failed invocation
 * prints. Instead, an error leaving a handler has the bundle positions of its stack
 * (`file:///var/task/index.mjs:1:23456`) rewritten to source positions
 * (`functions/tasks/create-provider-job.ts:42:7`), from the map next to the file, read on the
 * first error that needs it and kept for the container's life.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

// `<file>.mjs:<line>:<column>`, the file as a path or a file: URL.
const BUNDLE_FRAME = /((?:file:\/\/)?\/[^\s():]+\.mjs):(\d+):(\d+)/g;
const MAX_CAUSES = 5;

/** Reads the source map of a bundle file; undefined when it has none. */
export type ReadSourceMap = (file: string) => SourceMapPayload | undefined;

const cached = new Map<string, SourceMap | undefined>();

/**
 * `stack` with every bundle position that has a source map replaced by its source position
 * (the source path without the leading `../` of the map's relative paths). Other frames, and
 * positions the map does not cover, stay as they are.
 */
export function sourceMappedStack(stack: string, read: ReadSourceMap = readSourceMapFile): string {
  return stack.replace(BUNDLE_FRAME, (frame, file: string, line: string, column: string) => {
    const entry = mapOf(file, read)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (entry === undefined || !('originalSource' in entry)) return frame;
    const source = entry.originalSource.replace(/^(?:\.\.\/)+/, '');
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/**
 * Rewrites the stacks of `error` and its causes in place (see sourceMappedStack), unless Node
 * already maps them (`--enable-source-maps`). Never throws: a map that cannot be read leaves
 * the stack as it was.
 */
export function mapErrorStack(
  error: unknown,
  options: { nodeMapsStacks?: boolean; read?: ReadSourceMap } = {},
): void {
  if (options.nodeMapsStacks ?? process.sourceMapsEnabled) return;
  let link = error;
  for (let depth = 0; depth <= MAX_CAUSES && link instanceof Error; depth += 1) {
    if (typeof link.stack === 'string') {
      try {
        link.stack = sourceMappedStack(link.stack, options.read);
      } catch {
        // The stack stays as Node wrote it.
      }
    }
    link = link.cause;
  }
}

function mapOf(file: string, read: ReadSourceMap): SourceMap | undefined {
  const path = file.startsWith('file://') ? fileURLToPath(file) : file;
  if (!cached.has(path)) {
    const payload = read(path);
    cached.set(path, payload === undefined ? undefined : new SourceMap(payload));
  }
  return cached.get(path);
}

function readSourceMapFile(file: string): SourceMapPayload | undefined {
  try {
    return JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload;
  } catch {
    return undefined;
  }
}
