/**
 * A class-data-sharing (CDS) archive for DynamoDB Local's JVM: the classes it loads, parsed and
 * verified once and then mapped from a file at every boot. It boots in about 1.7 s instead of 3 s
 * on a 2-core machine and uses about 1.2 CPU-seconds less, which is most of a first video's
 * wait and a good share of `npm test`'s CPU (the suites start DynamoDB Local dozens of times).
 *
 * The JVM refuses to archive classes from a class path holding a non-empty directory, and
 * DynamoDB Local's jar lists its own directory (`.`) and its native libraries in its manifest's
 * `Class-Path`. So the cache keeps a copy of the jar whose manifest lists only its jars, beside a
 * link to the release's `DynamoDBLocal_lib` (the entries are relative to the jar). The first
 * JVM started on that copy writes the archive when it exits (`-XX:ArchiveClassesAtExit`, one
 * JVM at a time); the next ones boot from it. Anything that fails here only costs the speed:
 * the caller then runs the release's own jar, as before.
 *
 * Layout: `<cacheDir>/<key>/{DynamoDBLocal.jar, DynamoDBLocal_lib, classes.jsa}`, the key a hash
 * of the release's jar and of the java that runs it (an archive only fits the JVM that wrote it).
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  mkdir,
  open,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { projectCacheDir } from '../project-root.ts';
import { isAlive } from './data-dir-lock.ts';

/** The cache's own layout; bump to ignore every older entry. */
const FORMAT = 1;
const ARCHIVE = 'classes.jsa';
const JAR = 'DynamoDBLocal.jar';
const LIB = 'DynamoDBLocal_lib';

/** The default cache directory of a project: beside its dependencies, gone with them. */
export function defaultArchiveCacheDir(projectRoot: string): string {
  return projectCacheDir(projectRoot, 'dynamodb-local');
}

/** How to launch DynamoDB Local: its jar, the JVM options for the archive, and what to do after. */
export interface ArchivedLaunch {
  /** The jar to run (absolute). */
  jar: string;
  /** JVM options placed before `-jar`: use the archive, or write it at exit. */
  jvmOptions: string[];
  /**
   * This JVM writes the archive as it exits: about 3 CPU-seconds, much longer on a loaded
   * machine, which a stop must wait out rather than kill it for being slow.
   */
  writesArchive: boolean;
  /**
   * Call once java has exited: keeps the archive it wrote (if it was the one to write it) when
   * it `served`; a JVM that never answered (it could not bind its port) archived its boot alone,
   * not the classes that serve requests, so its archive is dropped and the next JVM writes one.
   */
  exited(outcome: { served: boolean }): Promise<void>;
}

/**
 * The launch for the release in `releaseDir` (holding DynamoDBLocal.jar and DynamoDBLocal_lib),
 * or undefined when no archive can be used here (no java on PATH, an unwritable cache): the
 * caller then runs the release's jar as it is.
 */
export async function archivedLaunch(
  releaseDir: string,
  cacheDir: string,
): Promise<ArchivedLaunch | undefined> {
  try {
    const java = await javaOnPath();
    if (!java) return undefined;
    const dir = join(cacheDir, await cacheKey(releaseDir, java));
    const jar = join(dir, JAR);
    await prepareJar(releaseDir, dir);
    const archive = join(dir, ARCHIVE);
    // The JVM skips options it does not know (another vendor's) instead of refusing to start.
    const base = ['-XX:+IgnoreUnrecognizedVMOptions', `-XX:SharedArchiveFile=${archive}`];
    const unchanged = { jar, writesArchive: false, exited: async () => {} };
    if (await exists(archive)) return { ...unchanged, jvmOptions: base };
    const claim = await claimArchive(dir);
    if (!claim) return { ...unchanged, jvmOptions: [] };
    const written = join(dir, `${ARCHIVE}.${process.pid}.tmp`);
    return {
      jar,
      jvmOptions: ['-XX:+IgnoreUnrecognizedVMOptions', `-XX:ArchiveClassesAtExit=${written}`],
      writesArchive: true,
      async exited({ served }) {
        // A JVM killed before it could write leaves nothing: the next one tries again.
        if (served) await rename(written, archive).catch(() => rm(written, { force: true }));
        else await rm(written, { force: true });
        await rm(join(dir, CLAIM), { force: true });
      },
    };
  } catch {
    return undefined;
  }
}

/** The `java` a spawn of "java" runs (the first on PATH), resolved through its links. */
async function javaOnPath(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'java');
    try {
      await access(candidate, constants.X_OK);
      return await realpath(candidate);
    } catch {}
  }
  return undefined;
}

async function cacheKey(releaseDir: string, java: string): Promise<string> {
  const [jarStat, javaStat] = await Promise.all([stat(join(releaseDir, JAR)), stat(java)]);
  return createHash('sha256')
    .update(
      JSON.stringify([FORMAT, releaseDir, jarStat.size, jarStat.mtimeMs, java, javaStat.mtimeMs]),
    )
    .digest('hex')
    .slice(0, 16);
}

/** Writes the jar with a manifest the JVM can archive from, once per key. */
async function prepareJar(releaseDir: string, dir: string): Promise<void> {
  const jar = join(dir, JAR);
  if (await exists(jar)) return;
  await mkdir(dir, { recursive: true });
  await symlink(join(releaseDir, LIB), join(dir, LIB)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const { unzipSync, zipSync, strFromU8, strToU8 } = await import('fflate');
  const files = unzipSync(await readFile(join(releaseDir, JAR)));
  const manifest = files['META-INF/MANIFEST.MF'];
  if (!manifest) throw new Error(`${JAR} has no manifest`);
  files['META-INF/MANIFEST.MF'] = strToU8(onlyJarsOnClassPath(strFromU8(manifest)));
  // Stored, not deflated: written once, and the JVM reads it without inflating.
  const written = `${jar}.${randomUUID()}.tmp`;
  await writeFile(written, zipSync(files, { level: 0 }));
  await rename(written, jar);
}

/**
 * The manifest with its `Class-Path` cut to the `.jar` entries: without `.` (the jar's own
 * directory, which the JVM will not archive from) and the native libraries listed there.
 * Manifest lines are at most 72 bytes; a line starting with a space continues the one before.
 */
export function onlyJarsOnClassPath(manifest: string): string {
  const lines: string[] = [];
  for (const line of manifest.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.startsWith(' ') && lines.length > 0) lines[lines.length - 1] += line.slice(1);
    else if (line) lines.push(line);
  }
  const out: string[] = [];
  for (let line of lines) {
    if (line.startsWith('Class-Path:')) {
      const entries = line.slice('Class-Path:'.length).trim().split(/\s+/);
      line = `Class-Path: ${entries.filter((entry) => entry.endsWith('.jar')).join(' ')}`;
    }
    out.push(line.slice(0, 72));
    for (let at = 72; at < line.length; at += 71) out.push(` ${line.slice(at, at + 71)}`);
  }
  return `${out.join('\r\n')}\r\n\r\n`;
}

const CLAIM = `${ARCHIVE}.claim`;

/**
 * Whether this process is the one to write the archive: the first to create the claim file (it
 * holds our pid). A claim whose process is gone (killed before its JVM exited) is taken over.
 */
async function claimArchive(dir: string): Promise<boolean> {
  const file = join(dir, CLAIM);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (holder && isAlive(holder)) return false;
      // What the gone process's JVM may have started writing goes with its claim.
      await rm(join(dir, `${ARCHIVE}.${holder}.tmp`), { force: true });
      await rm(file, { force: true });
    }
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
