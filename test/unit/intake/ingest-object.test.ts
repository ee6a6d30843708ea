import { describe, expect, it, vi } from 'vitest';
import {
  type DropObjectStore,
  type DroppedObject,
  ingestObject,
  type ReadResult,
} from '../../../functions/shared/intake/ingest-object.ts';
import type { IntakeReport } from '../../../functions/shared/intake/intake-report.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';

const NOW = new Date('2026-05-06T07:08:09.000Z');

/** A bucket of dropped files in memory, recording the reports written. */
function fakeBucket(files: Record<string, string | Uint8Array | ReadResult>) {
  const reports = new Map<string, IntakeReport>();
  const reads: DroppedObject[] = [];
  const objects: DropObjectStore = {
    async read(object) {
      reads.push(object);
      const file = files[object.key];
      if (file === undefined) return { kind: 'gone' };
      if (typeof file === 'string') {
        return { kind: 'read', bytes: new TextEncoder().encode(file), eTag: 'etag-read' };
      }
      if (file instanceof Uint8Array) return { kind: 'read', bytes: file, eTag: 'etag-read' };
      return file;
    },
    async putReport(bucket, key, report) {
      reports.set(`${bucket}/${key}`, structuredClone(report));
    },
  };
  return { objects, reports, reads };
}

function setup(files: Record<string, string | Uint8Array | ReadResult>) {
  const bucket = fakeBucket(files);
  const store = new InMemoryJobStore({ now: () => NOW });
  const startExecution = vi.fn(async (_jobId: string) => {});
  let sequence = 0;
  const deps = {
    objects: bucket.objects,
    submit: {
      store,
      startExecution,
      providerConfig: testProviderConfig(),
      clock: () => NOW,
      newJobId: () => {
        sequence += 1;
        return `job_${sequence}`;
      },
    },
  };
  return { ...bucket, store, startExecution, deps };
}

const BATCH = [
  '{"prompt":"A calm sea","seconds":"8"}',
  '{"prompt":"A storm","seconds":"5"}',
  '',
  'not json',
  '{"prompt":"A harbour at night","defer":true}',
].join('\n');

describe('ingestObject', () => {
  it('submits each valid line of an inbox .jsonl and reports every line', async () => {
    const { deps, store, startExecution, reports } = setup({ 'inbox/day1.jsonl': BATCH });
    const object = { bucket: 'videos', key: 'inbox/day1.jsonl', eTag: 'e1' };

    const outcome = await ingestObject(object, deps);

    expect(outcome).toMatchObject({ kind: 'reported', reportKey: 'inbox-results/day1.jsonl.json' });
    const report = reports.get('videos/inbox-results/day1.jsonl.json');
    expect(report).toEqual({
      source: { bucket: 'videos', key: 'inbox/day1.jsonl', eTag: 'e1' },
      processedAt: NOW.toISOString(),
      format: 'jsonl',
      totals: { entries: 4, accepted: 2, rejected: 2 },
      results: [
        { line: 1, jobId: 'job_1', status: 'QUEUED', deferred: false },
        { line: 2, error: { field: 'seconds', message: expect.stringContaining('seconds') } },
        { line: 4, error: { field: 'body', message: 'body: is not valid JSON' } },
        { line: 5, jobId: 'job_2', status: 'QUEUED', deferred: true },
      ],
    });
    expect(store.all().map((job) => [job.source, job.prompt])).toEqual([
      ['inbox', 'A calm sea'],
      ['inbox', 'A harbour at night'],
    ]);
    expect(startExecution).toHaveBeenCalledExactlyOnceWith('job_1');
  });

  it('reports a line whose prompt shows nothing, as the API refuses it', async () => {
    const lines = ['{"prompt":"\\u200b\\u202e"}', '{"prompt":"\\ud800"}', '{"prompt":"A fox"}'];
    const { deps, store, reports } = setup({ 'inbox/ghosts.jsonl': lines.join('\n') });

    await ingestObject({ bucket: 'videos', key: 'inbox/ghosts.jsonl', eTag: 'e1' }, deps);

    const results = reports.get('videos/inbox-results/ghosts.jsonl.json')?.results ?? [];
    const fieldAt = (index: number) => {
      const result = results[index];
      return result && 'error' in result ? result.error.field : undefined;
    };
    expect([fieldAt(0), fieldAt(1), fieldAt(2)]).toEqual(['prompt', 'prompt', undefined]);
    expect(JSON.stringify(results[0])).toMatch(/visible text/);
    expect(store.all().map((job) => job.prompt)).toEqual(['A fox']);
  });

  it('creates no second job when the same event is delivered again', async () => {
    const { deps, store, reports } = setup({ 'inbox/day1.jsonl': BATCH });
    const object = { bucket: 'videos', key: 'inbox/day1.jsonl', eTag: 'e1' };

    await ingestObject(object, deps);
    const first = reports.get('videos/inbox-results/day1.jsonl.json');
    await ingestObject({ ...object }, deps);
    const second = reports.get('videos/inbox-results/day1.jsonl.json');

    expect(store.all()).toHaveLength(2);
    expect(second?.results).toEqual(first?.results);
  });

  it('treats a new version of the same file as new work', async () => {
    const { deps, store } = setup({ 'inbox/a.txt': 'A fox' });

    await ingestObject({ bucket: 'videos', key: 'inbox/a.txt', versionId: 'v1' }, deps);
    await ingestObject({ bucket: 'videos', key: 'inbox/a.txt', versionId: 'v2' }, deps);

    expect(store.all()).toHaveLength(2);
  });

  it('defers every entry under batches/ and reports to batches-results/', async () => {
    const { deps, store, startExecution, reports } = setup({
      'batches/nightly/run.jsonl': '{"prompt":"one"}\n{"prompt":"two","defer":false}\n',
    });

    await ingestObject({ bucket: 'videos', key: 'batches/nightly/run.jsonl', eTag: 'e' }, deps);

    const report = reports.get('videos/batches-results/nightly/run.jsonl.json');
    expect(report?.results).toEqual([
      { line: 1, jobId: 'job_1', status: 'QUEUED', deferred: true },
      { line: 2, error: { field: 'defer', message: expect.stringContaining('batches/') } },
    ]);
    expect(store.all()).toEqual([
      expect.objectContaining({ source: 'batch', deferred: true, deferredReason: 'scheduled' }),
    ]);
    expect(startExecution).not.toHaveBeenCalled();
  });

  it.each([
    ['inbox/', 'inbox', 'inbox-results/'],
    ['batches/', 'batch', 'batches-results/'],
  ])(
    "carries each line's priority and start timeout under %s onto its job, reporting bad values by field",
    async (prefix, source, resultsPrefix) => {
      const lines = [
        '{"prompt":"first","priority":"high","startTimeoutSeconds":900}',
        '{"prompt":"second","priority":"low"}',
        '{"prompt":"third","priority":"urgent"}',
        '{"prompt":"fourth","startTimeoutSeconds":0}',
      ];
      const { deps, store, reports } = setup({ [`${prefix}lines.jsonl`]: lines.join('\n') });

      await ingestObject({ bucket: 'videos', key: `${prefix}lines.jsonl`, eTag: 'e' }, deps);

      expect(reports.get(`videos/${resultsPrefix}lines.jsonl.json`)?.results).toEqual([
        expect.objectContaining({ line: 1, jobId: 'job_1' }),
        expect.objectContaining({ line: 2, jobId: 'job_2' }),
        {
          line: 3,
          error: { field: 'priority', message: expect.stringContaining('high, normal, low') },
        },
        {
          line: 4,
          error: { field: 'startTimeoutSeconds', message: expect.stringContaining('from 1 to') },
        },
      ]);
      expect(store.all()).toEqual([
        expect.objectContaining({
          source,
          prompt: 'first',
          priority: 'high',
          startTimeoutSeconds: 900,
        }),
        expect.objectContaining({ source, prompt: 'second', priority: 'low' }),
      ]);
    },
  );

  it('reports a file the event says is too large without reading it', async () => {
    const { deps, reads, reports, store } = setup({ 'inbox/huge.jsonl': '{}' });

    await ingestObject(
      { bucket: 'videos', key: 'inbox/huge.jsonl', size: 6 * 1024 * 1024, eTag: 'e' },
      deps,
    );

    expect(reads).toEqual([]);
    expect(store.all()).toEqual([]);
    expect(reports.get('videos/inbox-results/huge.jsonl.json')).toMatchObject({
      totals: { entries: 0, accepted: 0, rejected: 0 },
      results: [],
      error: { field: 'file', message: expect.stringContaining('6291456 bytes') },
    });
  });

  it('reports a file the read finds too large, undecodable or of an unknown kind', async () => {
    const { deps, reports } = setup({
      'inbox/grown.txt': { kind: 'too-large', bytes: 9_000_000 },
      'inbox/binary.txt': new Uint8Array([0xc3, 0x28]),
      'inbox/notes.md': 'hello',
    });

    for (const key of ['inbox/grown.txt', 'inbox/binary.txt', 'inbox/notes.md']) {
      await ingestObject({ bucket: 'videos', key }, deps);
    }

    expect(reports.get('videos/inbox-results/grown.txt.json')?.error?.message).toMatch(/9000000/);
    expect(reports.get('videos/inbox-results/binary.txt.json')?.error?.message).toMatch(/UTF-8/);
    expect(reports.get('videos/inbox-results/notes.md.json')?.error?.message).toMatch(/extension/);
  });

  it('ignores keys outside the drop folders, folder markers, and files gone or overwritten', async () => {
    const { deps, reports, reads } = setup({ 'inbox/old.txt': { kind: 'superseded' } });

    const outcomes = await Promise.all(
      ['inbox-results/a.txt.json', 'inbox/sub/', 'inbox/deleted.txt', 'inbox/old.txt'].map((key) =>
        ingestObject({ bucket: 'videos', key }, deps),
      ),
    );

    expect(outcomes).toEqual([
      { kind: 'ignored', reason: 'not-a-drop-folder' },
      { kind: 'ignored', reason: 'folder-marker' },
      { kind: 'ignored', reason: 'gone' },
      { kind: 'ignored', reason: 'superseded' },
    ]);
    expect(reports.size).toBe(0);
    expect(reads.map((object) => object.key)).toEqual(['inbox/deleted.txt', 'inbox/old.txt']);
  });

  it('keys entries by the version the read saw when the event names none', async () => {
    const { deps, store } = setup({ 'inbox/a.txt': 'A fox' });

    await ingestObject({ bucket: 'videos', key: 'inbox/a.txt' }, deps);
    await ingestObject({ bucket: 'videos', key: 'inbox/a.txt', eTag: '"etag-read"' }, deps);

    expect(store.all()).toHaveLength(1);
  });

  it('throws on an infrastructure failure so the event is retried, and the retry finishes the work', async () => {
    const { deps, store, reports } = setup({ 'inbox/day1.jsonl': BATCH });
    const object = { bucket: 'videos', key: 'inbox/day1.jsonl', eTag: 'e1' };
    const create = store.create.bind(store);
    const spy = vi.spyOn(store, 'create').mockRejectedValueOnce(new Error('throttled'));

    await expect(ingestObject(object, { ...deps, concurrency: 1 })).rejects.toThrow('throttled');
    spy.mockImplementation(create);
    await ingestObject(object, deps);

    expect(store.all()).toHaveLength(2);
    expect(reports.get('videos/inbox-results/day1.jsonl.json')?.totals.accepted).toBe(2);
  });
});
