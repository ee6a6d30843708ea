import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A reader pastes the guide's commands in the repository root: every file they write must be
// git-ignored (and so ignored by Biome), or `npm run lint` fails on a stray report.json.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOCS = ['docs/guide.md', 'docs/examples/README.md', 'README.md', 'infra/local/README.md'];

/**
 * The paths a shell snippet writes: `-o FILE`, `> FILE`, `tee FILE`, and the examples' output
 * argument.
 */
function writtenPaths(markdown: string): string[] {
  const paths: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const code = block[1] ?? '';
    for (const match of code.matchAll(
      /(?:\s-o|(?:^|\s)>|(?:^|\s)tee(?:\s+-a)?)\s+([^\s;|&)]+)/gm,
    )) {
      paths.push(match[1] ?? '');
    }
    for (const match of code.matchAll(/generate-video\.\w+ "[^"]*" (\S+)/g)) {
      paths.push(match[1] ?? '');
    }
  }
  // Absolute paths (/tmp/...) are outside the repository; `$VAR` and `-` are not files.
  return paths.filter((path) => !path.startsWith('/') && !path.startsWith('$') && path !== '-');
}

function isIgnored(path: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
}

describe('the docs write only into ignored folders', () => {
  it.each(DOCS)('%s', (doc) => {
    const paths = writtenPaths(readFileSync(`${ROOT}/${doc}`, 'utf8'));

    expect(paths.filter((path) => !isIgnored(path))).toEqual([]);
  });

  it('finds the files the guide writes (the check is not vacuous)', () => {
    const paths = writtenPaths(readFileSync(`${ROOT}/docs/guide.md`, 'utf8'));

    expect(paths).toEqual(
      expect.arrayContaining([
        'videos/fox.mp4',
        'scratch/openapi.json',
        'scratch/report.json',
        'scratch/job.json',
      ]),
    );
  });
});
