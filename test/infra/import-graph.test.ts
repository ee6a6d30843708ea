import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The import graph's two rules, kept by `npm test` (and so by CI): no import cycles (type-only
 * and lazy `import()` edges count, since a cycle through them still ties two modules' designs
 * together), and shared code never imports the API layer (functions/api/ builds on shared/,
 * not the other way round). dpdm reads the imports; it carries its own TypeScript 5 parser,
 * as madge cannot run beside this project's TypeScript 7.
 */
const SOURCES = ['functions/**/*.ts', 'infra/**/*.ts', 'console/src/**/*.ts', 'bench/**/*.ts'];

async function importGraph(entries: string[], context: string): Promise<DependencyTree> {
  return parseDependencyTree(entries, {
    cwd: context,
    context,
    transform: false,
    onProgress: () => {},
  });
}

describe('the import graph', () => {
  let tree: DependencyTree;

  beforeAll(async () => {
    tree = await importGraph(SOURCES, process.cwd());
  });

  it('reads the whole codebase (a wrong glob would pass every rule vacuously)', () => {
    const files = Object.keys(tree);
    expect(files).toContain('functions/api/handler.ts');
    expect(files).toContain('infra/local/local-stack.ts');
    expect(files.length).toBeGreaterThan(250);
  });

  it('has no import cycles', () => {
    expect(parseCircular(tree)).toEqual([]);
  });

  it('keeps shared code from importing the API layer', () => {
    const crossings = Object.entries(tree).flatMap(([file, dependencies]) =>
      file.startsWith('functions/shared/')
        ? (dependencies ?? [])
            .filter((dependency) => dependency.id?.startsWith('functions/api/'))
            .map((dependency) => `${file} -> ${dependency.id}`)
        : [],
    );
    expect(crossings).toEqual([]);
  });
});

describe('the cycle check itself', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'import-graph-'));
    // A type-only import one way and a lazy import() the other: both edges must be seen.
    await writeFile(join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport type A = B[];\n");
    await writeFile(
      join(dir, 'b.ts'),
      "export type B = string;\nexport const load = () => import('./a.ts');\n",
    );
    await writeFile(join(dir, 'c.ts'), "import type { B } from './b.ts';\nexport type C = B;\n");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds a cycle made of a type-only import and a lazy import()', async () => {
    const circulars = parseCircular(await importGraph(['*.ts'], dir));
    expect(circulars.map((cycle) => [...cycle].sort())).toEqual([['a.ts', 'b.ts']]);
  });
});
