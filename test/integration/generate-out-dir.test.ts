import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublicJob } from '../../functions/shared/jobs/public-job.ts';
import { downloadVideo, prepareOutDir } from '../../infra/local/generate-command.ts';
import type { LocalStackInfo } from '../../infra/local/local-stack.ts';

// `npm run generate -- --out <dir>`: the directory is made sure of before the job is paid for,
// and saving the video fails fast with an error naming --out. Under /proc a missing directory
// cannot be created whatever the permissions (root may write anywhere else), and Node's
// recursive mkdir retries it forever at full CPU.
const HAS_PROC = existsSync('/proc/self');

let dir: string;
let server: Server;
let info: LocalStackInfo;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-out-dir-'));
  // GET /videos/{id}/content answers a few bytes, as the API's redirect target would.
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'video/mp4' });
    response.end(Buffer.from('not really a video'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  info = { apiUrl: `http://127.0.0.1:${port}`, headers: {} } as LocalStackInfo;
});

afterAll(async () => {
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('prepareOutDir', () => {
  it('creates the directory and its parents, and leaves nothing in it', async () => {
    const out = join(dir, 'new', 'videos');

    await prepareOutDir(out);

    expect(await readdir(out)).toEqual([]);
  });

  it('refuses a directory under a file, naming --out', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'taken');

    await expect(prepareOutDir(join(file, 'videos'))).rejects.toThrow(
      /^--out .*a-file\/videos: .*a-file is a file, not a directory$/,
    );
  });

  it.skipIf(!HAS_PROC)('refuses a directory that cannot be created, naming --out', async () => {
    await expect(prepareOutDir('/proc/nope')).rejects.toThrow(
      '--out /proc/nope: /proc/nope cannot be created (ENOENT)',
    );
  });
});

describe("generate's download", () => {
  it.skipIf(!HAS_PROC)(
    'fails fast naming --out when the directory cannot be created',
    async () => {
      const job = { id: 'job_01M98R9NX91BH6N9GQCS08JJ9A', status: 'COMPLETED' } as PublicJob;

      await expect(downloadVideo(info, job, '/proc/nope/videos')).rejects.toThrow(
        '--out /proc/nope/videos: /proc/nope cannot be created (ENOENT)',
      );
    },
    // Before the fix the mkdir never ended; a hang fails here rather than at the suite's bound.
    10_000,
  );

  it('saves into a directory it creates', async () => {
    // A job id: the client names no file after anything else.
    const job = { id: 'job_01M98R9NX91BH6N9GQCS08JJ9B', status: 'COMPLETED' } as PublicJob;

    const file = await downloadVideo(info, job, join(dir, 'saved'));

    expect(file).toBe(join(dir, 'saved', `${job.id}.mp4`));
    expect(await readdir(join(dir, 'saved'))).toEqual([`${job.id}.mp4`]);
  });
});
