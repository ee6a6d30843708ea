import { describe, expect, it, vi } from 'vitest';
import { createIntakeHandler } from '../../../functions/intake/intake-handler.ts';
import type { IntakeReport } from '../../../functions/shared/intake/intake-report.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

function s3Event(...keys: string[]) {
  return {
    Records: keys.map((key) => ({
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'videos' }, object: { key, size: 5, eTag: 'e' } },
    })),
  };
}

function setup() {
  const reports = new Map<string, IntakeReport>();
  const store = new InMemoryJobStore();
  const { logger, lines } = recordingLogger();
  let sequence = 0;
  const handler = createIntakeHandler({
    objects: {
      read: async (object) =>
        object.key.endsWith('.txt')
          ? { kind: 'read', bytes: new TextEncoder().encode('A fox') }
          : { kind: 'read', bytes: new TextEncoder().encode('{"prompt":') },
      putReport: async (_bucket, key, report) => {
        reports.set(key, report);
      },
    },
    submit: {
      store,
      startExecution: vi.fn(async () => {}),
      providerConfig: testProviderConfig(),
      clock: () => new Date('2026-01-01T00:00:00.000Z'),
      newJobId: () => {
        sequence += 1;
        return `job_${sequence}`;
      },
    },
    logger,
  });
  return { handler, store, reports, lines };
}

describe('intake handler', () => {
  it('ingests every created object of the event, decoding keys, and summarises each', async () => {
    const { handler, store, reports } = setup();

    const result = await handler(s3Event('inbox/a+fox.txt', 'inbox/b.json'));

    expect(result).toEqual({
      objects: [
        {
          key: 'inbox/a fox.txt',
          outcome: 'reported',
          reportKey: 'inbox-results/a fox.txt.json',
          accepted: 1,
          rejected: 0,
        },
        {
          key: 'inbox/b.json',
          outcome: 'reported',
          reportKey: 'inbox-results/b.json.json',
          accepted: 0,
          rejected: 1,
        },
      ],
      skippedRecords: 0,
    });
    expect(store.all()).toHaveLength(1);
    expect([...reports.keys()]).toEqual([
      'inbox-results/a fox.txt.json',
      'inbox-results/b.json.json',
    ]);
  });

  it('does not throw for an event it cannot use, and says so in the log', async () => {
    const { handler, lines } = setup();

    const result = await handler({ Records: [{ eventName: 'ObjectRemoved:Delete' }] });

    expect(result).toEqual({ objects: [], skippedRecords: 1 });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'Skipped S3 event records' }),
    );
  });
});
