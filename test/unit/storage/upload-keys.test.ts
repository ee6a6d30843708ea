import { describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../../../functions/shared/jobs/job-errors.ts';
import { submitJob } from '../../../functions/shared/jobs/submit-job.ts';
import {
  clientUploadsPrefix,
  mayUseUpload,
  uploadKeyProblem,
} from '../../../functions/shared/storage/upload-keys.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { blackPng } from '../../support/png.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';

const NOW = new Date('2026-03-04T05:06:07.000Z');

describe('uploadKeyProblem', () => {
  it.each([
    'uploads/alice/sha256-ab.png',
    'uploads/cat.png',
    'uploads/team-a/2026/12/still_01.jpeg',
    'uploads/katzen/schöne-katze.webp',
  ])('accepts the plain name %s', (key) => {
    expect(uploadKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['uploads/../videos/job_1/thumbnail.webp', /"\." or "\.\." segment/],
    ['uploads/alice/../bob/a.png', /"\." or "\.\." segment/],
    ['uploads/./a.png', /"\." or "\.\." segment/],
    ['uploads/alice/..', /"\." or "\.\." segment/],
    ['uploads//a.png', /empty segment/],
    ['uploads/alice/', /empty segment/],
    ['uploads/', /empty segment/],
    ['uploads/alice\\a.png', /backslash/],
    ['uploads/alice/..\\a.png', /backslash/],
    ['uploads/alice/%2e%2e/a.png', /percent/],
    ['uploads/a%2Fb.png', /percent/],
    ['uploads/a\u0000.png', /control characters/],
    ['uploads/a\u001b[31m.png', /control characters/],
    ['uploads/a\u007f.png', /control characters/],
    ['uploads/a\u009b.png', /control characters/],
    ['uploads/a b.png', /whitespace/],
    ['videos/job_1/video.mp4', /under uploads\//],
    [`uploads/${'a'.repeat(1020)}`, /at most 1024/],
  ])('refuses %j', (key, reason) => {
    expect(uploadKeyProblem(key)).toMatch(reason);
  });
});

describe('mayUseUpload', () => {
  it("lets a client use its own uploads only, and an admin's prefix any upload", () => {
    const alice = clientUploadsPrefix('alice');

    expect(mayUseUpload('uploads/alice/a.png', alice)).toBe(true);
    expect(mayUseUpload('uploads/alice-2/a.png', alice)).toBe(false);
    expect(mayUseUpload('uploads/bob/a.png', alice)).toBe(false);
    expect(mayUseUpload('uploads/a.png', alice)).toBe(false);
    expect(mayUseUpload('uploads/bob/a.png', 'uploads/')).toBe(true);
    expect(mayUseUpload('videos/a.mp4', 'videos/')).toBe(false);
  });
});

describe('submitJob with a reference key', () => {
  function setup(objects: Record<string, Uint8Array>) {
    const readUpload = vi.fn(async (key: string) => objects[key]);
    const deps = {
      store: new InMemoryJobStore({ now: () => NOW }),
      startExecution: vi.fn(async () => {}),
      providerConfig: testProviderConfig(),
      clock: () => NOW,
      newJobId: () => 'job_1',
      readUpload,
    };
    return { deps, readUpload };
  }

  async function refusal(promise: Promise<unknown>): Promise<{ field: string; message: string }> {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    if (!(error instanceof ValidationError)) throw new Error(`expected a ValidationError`);
    return { field: error.field, message: error.message };
  }

  const request = (key: string) => ({
    prompt: 'From a still',
    size: '1280x720',
    input_reference: { key },
  });

  it("answers another client's existing upload exactly as a missing key, without reading it", async () => {
    const { deps, readUpload } = setup({
      'uploads/alice/wide.png': blackPng(1280, 720),
      'uploads/alice/tall.png': blackPng(720, 1280),
    });

    const foreign = await refusal(
      submitJob(request('uploads/alice/wide.png'), { source: 'api', client: 'bob' }, deps),
    );
    const foreignWrongSize = await refusal(
      submitJob(request('uploads/alice/tall.png'), { source: 'api', client: 'bob' }, deps),
    );
    const missing = await refusal(
      submitJob(request('uploads/bob/wide.png'), { source: 'api', client: 'bob' }, deps),
    );

    expect(missing).toEqual({
      field: 'input_reference.key',
      message: 'input_reference.key: no object uploads/bob/wide.png in the videos bucket',
    });
    expect(foreign).toEqual({
      field: 'input_reference.key',
      message: 'input_reference.key: no object uploads/alice/wide.png in the videos bucket',
    });
    expect(foreignWrongSize.message).toBe(
      'input_reference.key: no object uploads/alice/tall.png in the videos bucket',
    );
    expect(readUpload.mock.calls.map(([key]) => key)).toEqual(['uploads/bob/wide.png']);
    expect(await deps.store.get('job_1')).toBeUndefined();
  });

  it('lets a client use its own upload, an admin and the drop folder any upload', async () => {
    const objects = { 'uploads/alice/wide.png': blackPng(1280, 720) };

    const own = await submitJob(
      request('uploads/alice/wide.png'),
      { source: 'api', client: 'alice' },
      setup(objects).deps,
    );
    const admin = await submitJob(
      request('uploads/alice/wide.png'),
      { source: 'api', client: 'admin', uploadsPrefix: 'uploads/' },
      setup(objects).deps,
    );
    const dropFolder = await submitJob(
      request('uploads/alice/wide.png'),
      { source: 'inbox' },
      setup(objects).deps,
    );

    for (const { job } of [own, admin, dropFolder]) {
      expect(job.inputReference).toMatchObject({ key: 'uploads/alice/wide.png', width: 1280 });
    }
  });

  it.each([
    'uploads/../videos/job_1/thumbnail.webp',
    'uploads/./a.png',
    'uploads//a.png',
    'uploads/bob\\a.png',
    'uploads/bob/%2e%2e/a.png',
    'uploads/bob/a\u0007.png',
  ])('refuses the path key %j as input_reference.key before reading anything', async (key) => {
    const { deps, readUpload } = setup({});

    const refused = await refusal(submitJob(request(key), { source: 'api', client: 'bob' }, deps));

    expect(refused.field).toBe('input_reference.key');
    expect(refused.message).not.toMatch(/no object/);
    expect(readUpload).not.toHaveBeenCalled();
  });
});
