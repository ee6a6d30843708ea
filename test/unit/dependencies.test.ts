import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `dependencies` are what the deployed functions import (esbuild bundles exactly those); the
// local stack, the simulator, the CDK app, the console, the benches and the tests run from
// devDependencies.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .filter((entry) => !entry.parentPath.includes('node_modules'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** An import specifier's package (`@scope/name` or `name`); undefined for a file or a builtin. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || isBuiltin(specifier)) {
    return undefined;
  }
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

interface Imported {
  name: string;
  /** `import type`: gone from a bundle, found by the type checker (in `@types/<name>` too). */
  typeOnly: boolean;
}

/**
 * Packages a file imports: statically (`import`/`export ... from`, a bare `import 'x'`) or with
 * `import()` (a chunk loaded on first use is still in the bundle).
 */
function importedPackages(file: string): Imported[] {
  const text = readFileSync(file, 'utf8');
  const imports = [
    ...[...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)].map(
      ([, typeOnly, specifier]) => ({ specifier: specifier ?? '', typeOnly: Boolean(typeOnly) }),
    ),
    ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map(([, specifier]) => ({
      specifier: specifier ?? '',
      typeOnly: false,
    })),
    ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map(([, specifier]) => ({
      specifier: specifier ?? '',
      typeOnly: false,
    })),
  ];
  return imports.flatMap(({ specifier, typeOnly }) => {
    const name = packageOf(specifier);
    return name === undefined ? [] : [{ name, typeOnly }];
  });
}

/** Where DefinitelyTyped keeps a package's types: `@types/name`, `@types/scope__name`. */
const typesPackage = (name: string) => `@types/${name.replace(/^@/, '').replace('/', '__')}`;

describe('package.json dependencies', () => {
  it('are exactly the packages the Lambda functions import', () => {
    const used = new Set(
      sourceFiles('functions')
        .flatMap(importedPackages)
        .filter(({ typeOnly }) => !typeOnly)
        .map(({ name }) => name),
    );

    expect(Object.keys(pkg.dependencies).sort()).toEqual([...used].sort());
  });

  it('declare every package the repository imports, types included', () => {
    const declared = new Set([
      ...Object.keys(pkg.dependencies),
      ...Object.keys(pkg.devDependencies),
    ]);
    const files = [
      ...['functions', 'infra', 'test', 'bench', 'console', 'docs'].flatMap(sourceFiles),
      join(ROOT, 'vitest.config.ts'),
      join(ROOT, 'vitest.browser.config.ts'),
    ];

    const undeclared = files.flatMap((file) =>
      importedPackages(file)
        .filter(
          ({ name, typeOnly }) =>
            !declared.has(name) && !(typeOnly && declared.has(typesPackage(name))),
        )
        .map(({ name }) => `${name} (${file.slice(ROOT.length)})`),
    );

    expect(undeclared).toEqual([]);
  });
});
