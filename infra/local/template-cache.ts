/**
 * The local stack's synthesized templates, cached: synthesizing the CDK app (loading aws-cdk-lib
 * and building both stacks) is most of a cold `npm run generate`'s start, and its result changes
 * only when the sources it is built from do. The cache key is a hash of every file under infra/
 * and functions/, cdk.json, package-lock.json (the CDK's version), the CDK's environment and the
 * context; a fresh clone has no cache and synthesizes. Addresses that change on every start (a
 * simulator's port) are replaced by placeholders before the key is taken, and put back after.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { projectCacheDir } from '../project-root.ts';
import type { CfnTemplate } from './cfn-template.ts';

/** What the local stack reads of a synthesis. */
export interface LocalTemplates {
  templates: { stateful: CfnTemplate; pipeline: CfnTemplate };
  stacks: Record<string, CfnTemplate>;
}

export interface TemplateCacheOptions {
  /** The project root: infra/, functions/, cdk.json and package-lock.json are read from here. */
  projectRoot: string;
  /** Where cached templates are kept; null synthesizes every time. */
  cacheDir: string | null;
  /** CDK context of this synthesis. */
  context: Record<string, string>;
  /**
   * Values of `context` that differ from one start to the next (a simulator's origin): each is
   * replaced by a placeholder in the context synthesized and in the key, and put back in the
   * templates returned.
   */
  volatile?: readonly string[];
  /** Synthesizes the CDK app with a context (the slow part this module saves). */
  synthesize(context: Record<string, string>): Promise<LocalTemplates>;
}

/** The cache's own layout; bump to ignore every older entry. */
const FORMAT = 1;
/** Entries kept: one per distinct context (tests start stacks with many), newest kept. */
const MAX_ENTRIES = 64;
/** The sources a synthesis depends on, relative to the project root. */
const SOURCE_DIRS = ['infra', 'functions'];
const SOURCE_FILES = ['cdk.json', 'package-lock.json'];
/** The environment the CDK app reads (synth-pipeline.ts, CDK itself). */
const CDK_ENVIRONMENT = ['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'CDK_CONTEXT_JSON'];

/** The default cache directory of a project: beside its dependencies, gone with them. */
export function defaultTemplateCacheDir(projectRoot: string): string {
  return projectCacheDir(projectRoot, 'local-templates');
}

/**
 * The templates for `context`: from the cache when the sources are unchanged, else synthesized
 * and cached. `cached` says which (the CLI tells the user; the bench reports it).
 */
export async function cachedTemplates(
  options: TemplateCacheOptions,
): Promise<LocalTemplates & { cached: boolean }> {
  // Longest first: a port that is a prefix of another (:4000, :40001) is not cut out of it.
  const volatile = [...new Set(options.volatile ?? [])]
    .filter((value) => value !== '')
    .sort((a, b) => b.length - a.length);
  const placeholders = volatile.map((_, index) => `http://local-address-${index}.invalid`);
  const context = mapValues(options.context, (value) => replaceAll(value, volatile, placeholders));
  const restore = (templates: LocalTemplates): LocalTemplates =>
    JSON.parse(replaceAll(JSON.stringify(templates), placeholders, volatile)) as LocalTemplates;
  if (!options.cacheDir) return { ...restore(await options.synthesize(context)), cached: false };

  const key = await cacheKey(options.projectRoot, context);
  const file = join(options.cacheDir, `${key}.json`);
  // A missing or unreadable entry (a write cut short) is synthesized again.
  const hit = await readFile(file, 'utf8')
    .then((text) => JSON.parse(text) as Partial<LocalTemplates>)
    .catch(() => undefined);
  if (hit?.templates?.pipeline && hit.templates.stateful && hit.stacks) {
    return { ...restore(hit as LocalTemplates), cached: true };
  }
  const synthesized = await options.synthesize(context);
  await store(options.cacheDir, file, synthesized);
  return { ...restore(synthesized), cached: false };
}

/** The hash of everything a synthesis depends on. */
export async function cacheKey(
  projectRoot: string,
  context: Record<string, string>,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`format ${FORMAT}\n`);
  const sorted = Object.fromEntries(Object.entries(context).sort(([a], [b]) => a.localeCompare(b)));
  hash.update(`context ${JSON.stringify(sorted)}\n`);
  for (const name of CDK_ENVIRONMENT) hash.update(`env ${name}=${process.env[name] ?? ''}\n`);
  const files = [...SOURCE_FILES];
  for (const dir of SOURCE_DIRS) files.push(...(await sourceFiles(projectRoot, dir)));
  for (const path of files.sort()) {
    const content = await readFile(join(projectRoot, path)).catch(() => undefined);
    hash.update(`file ${path} ${content === undefined ? 'absent' : content.length}\n`);
    if (content) hash.update(content);
  }
  return hash.digest('hex').slice(0, 32);
}

async function sourceFiles(projectRoot: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(projectRoot, dir), {
    recursive: true,
    withFileTypes: true,
  }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => relative(projectRoot, join(entry.parentPath, entry.name)));
}

/** Writes atomically (several stacks may start at once), then keeps the newest entries. */
async function store(cacheDir: string, file: string, templates: LocalTemplates): Promise<void> {
  try {
    await mkdir(cacheDir, { recursive: true });
    const partial = `${file}.${process.pid}.part`;
    await writeFile(partial, JSON.stringify(templates));
    await rename(partial, file);
    await prune(cacheDir);
  } catch {
    // A cache that cannot be written (read-only node_modules) only costs the next start time.
  }
}

async function prune(cacheDir: string): Promise<void> {
  const names = (await readdir(cacheDir)).filter((name) => name.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = await Promise.all(
    names.map(async (name) => ({
      name,
      mtimeMs: (await stat(join(cacheDir, name)).catch(() => undefined))?.mtimeMs ?? 0,
    })),
  );
  aged.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of aged.slice(MAX_ENTRIES)) {
    await rm(join(cacheDir, name), { force: true });
  }
}

function replaceAll(text: string, from: readonly string[], to: readonly string[]): string {
  let result = text;
  from.forEach((value, index) => {
    result = result.split(value).join(to[index] ?? value);
  });
  return result;
}

function mapValues(
  record: Record<string, string>,
  map: (value: string) => string,
): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, map(value)]));
}
