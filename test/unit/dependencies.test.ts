import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `dependencies` are what the deployed functions import (esbuild bundles exactly those); the
// local stack, the simulator, the CDK app and the tests run from devDependencies.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Packages a file imports as values, statically or with `import()` (a chunk loaded on first
 * use is still in the bundle); type-only imports vanish from the bundle.
 */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...[...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)]
      .filter(([, typeOnly]) => !typeOnly)
      .map(([, , specifier]) => specifier ?? ''),
    ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map(([, specifier]) => specifier ?? ''),
  ];
  const packages: string[] = [];
  for (const specifier of specifiers) {
    if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
    const parts = specifier.split('/');
    packages.push(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? ''));
  }
  return packages;
}

describe('package.json dependencies', () => {
  it('are exactly the packages the Lambda functions import', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const used = new Set(sourceFiles('functions').flatMap(importedPackages));

    expect(Object.keys(pkg.dependencies).sort()).toEqual([...used].sort());
  });
});
