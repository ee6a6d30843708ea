import { describe, expect, it } from 'vitest';
import type { Video } from '../../../infra/cli/api-client.ts';
import {
  cliCommand,
  modelLines,
  nextPageLine,
  type UsageReport,
  usageLines,
  videoLines,
  videoTable,
} from '../../../infra/cli/cli-text.ts';

const DAY: UsageReport = {
  day: '2026-03-04',
  budget: { limitUsd: null, spentUsd: 9.9, reservedUsd: 0, orphanedUsd: 0, remainingUsd: null },
  concurrency: { limit: 4, inUse: 0 },
};

describe('usageLines', () => {
  it('says there is no daily budget as a clause of its own', () => {
    expect(usageLines(DAY)).toEqual([
      '2026-03-04 (UTC)',
      '  deployment  spent $9.90, reserved $0.00; no daily budget; slots 0/4 in use',
    ]);
  });

  it('shows the budget, what is left of it, and orphans when there are any', () => {
    const usage: UsageReport = {
      ...DAY,
      budget: { limitUsd: 25, spentUsd: 8.4, reservedUsd: 1.2, orphanedUsd: 0.4, remainingUsd: 15 },
      concurrency: { limit: 4, inUse: 3 },
    };

    expect(usageLines(usage)[1]).toBe(
      '  deployment  spent $8.40, reserved $1.20, orphaned $0.40; daily budget $25.00, $15.00 left; slots 3/4 in use',
    );
  });

  it("adds the caller's own share", () => {
    const usage: UsageReport = {
      ...DAY,
      client: {
        client: 'alice',
        spentUsd: 2.4,
        reservedUsd: 0.4,
        jobs: { submitted: 8, completed: 6, failed: 0, cancelled: 1 },
      },
    };

    expect(usageLines(usage)[2]).toBe(
      '  alice       spent $2.40, reserved $0.40; 8 submitted, 6 completed, 0 failed, 1 cancelled',
    );
    expect(usageLines(usage)).toHaveLength(3);
  });

  it("adds the caller's part of the budget against its own daily budget", () => {
    const usage: UsageReport = {
      ...DAY,
      client: {
        client: 'bob',
        spentUsd: 0.5,
        reservedUsd: 0.8,
        jobs: { submitted: 3, completed: 1, failed: 0, cancelled: 0 },
        budget: { limitUsd: 2, spentUsd: 0.5, reservedUsd: 0.8, remainingUsd: 0.7 },
      },
    };

    expect(usageLines(usage)[3]).toBe(
      '  budget      bob: $0.50 of $2.00 (reserved $0.80), $0.70 left',
    );
  });

  it('says a client has no daily budget of its own', () => {
    const usage: UsageReport = {
      ...DAY,
      client: {
        client: 'alice',
        spentUsd: 2.4,
        reservedUsd: 0.4,
        jobs: { submitted: 8, completed: 6, failed: 0, cancelled: 1 },
        budget: { limitUsd: null, spentUsd: 2.4, reservedUsd: 0.4, remainingUsd: null },
      },
    };

    expect(usageLines(usage)[3]).toBe(
      '  budget      alice: $2.40 (reserved $0.40), no daily budget of its own',
    );
  });
});

describe('nextPageLine', () => {
  it('repeats the filters given, from the cursor', () => {
    expect(
      nextPageLine(
        { status: 'FAILED', batch: undefined, limit: '100', client: 'alice' },
        'eyJwayI6',
      ),
    ).toBe(
      'next page: npm run cli -- list --status FAILED --limit 100 --client alice --cursor eyJwayI6',
    );
  });

  it('quotes a value the shell would split or expand', () => {
    expect(nextPageLine({ 'data-dir': "/tmp/my data's" }, 'abc')).toBe(
      `next page: npm run cli -- list --data-dir '/tmp/my data'\\''s' --cursor abc`,
    );
  });
});

describe('modelLines', () => {
  it('shows each model with its defaults marked and its prices, by size where they differ', () => {
    const lines = modelLines({
      defaultModel: 'sora-2',
      models: [
        {
          id: 'sora-2',
          provider: 'openai-videos',
          sizes: ['720x1280', '1280x720'],
          seconds: ['4', '8', '12'],
          defaultSize: '720x1280',
          defaultSeconds: '4',
          pricePerSecondUsd: 0.1,
        },
        {
          id: 'sora-2-pro',
          provider: 'openai-videos',
          sizes: ['720x1280', '1024x1792', '1792x1024'],
          seconds: ['8'],
          defaultSize: '1024x1792',
          defaultSeconds: '8',
          pricePerSecondUsd: 0.125,
          pricePerSecondUsdBySize: { '1024x1792': 0.5, '1792x1024': 0.5 },
        },
      ],
    });

    expect(lines).toEqual([
      'sora-2 (default model)  openai-videos',
      '  sizes    720x1280 (default), 1280x720',
      '  seconds  4 (default), 8, 12',
      '  price    $0.10 per second',
      'sora-2-pro  openai-videos',
      '  sizes    720x1280, 1024x1792 (default), 1792x1024',
      '  seconds  8 (default)',
      '  price    $0.125 per second; $0.50 at 1024x1792, 1792x1024',
    ]);
  });
});

describe('cliCommand', () => {
  it('names the command to run again, with the connection flags given and no others', () => {
    expect(cliCommand(['follow', 'job_01'], { client: 'alice', 'data-dir': undefined })).toBe(
      'npm run cli -- follow job_01 --client alice',
    );
  });
});

const VIDEO: Video = {
  id: 'job_01',
  status: 'QUEUED',
  client: 'alice',
  prompt: 'A cat',
  model: 'sora-2',
  size: '720x1280',
  seconds: '4',
  progress: 0,
  createdAt: '2026-03-04T12:00:00.000Z',
  priority: 'normal',
};

describe('videoLines (get)', () => {
  it("shows a waiting job's place in line and when it is expected done, under its status", () => {
    const lines = videoLines({ ...VIDEO, queue: { position: 3, etaSeconds: 130 } });

    expect(lines.slice(0, 3)).toEqual([
      'job_01  QUEUED  0%',
      '  queued   #3 in line, done in ~2 min',
      '  prompt   A cat',
    ]);
  });

  it('shows only the place in line of a waiting job whose ETA is unknown', () => {
    const lines = videoLines({ ...VIDEO, queue: { position: 1, etaSeconds: null } });

    expect(lines[1]).toBe('  queued   #1 in line');
    expect(lines.join('\n')).not.toMatch(/null|done in/);
  });

  it("shows a running job's ETA and when it started, and no ETA line when it is unknown", () => {
    const running: Video = {
      ...VIDEO,
      status: 'IN_PROGRESS',
      progress: 40,
      startedAt: '2026-03-04T12:01:02.000Z',
      etaSeconds: 38,
    };

    const lines = videoLines(running);
    const unknown = videoLines({ ...running, etaSeconds: null });

    expect(lines[1]).toBe('  running  done in ~40 s');
    expect(lines).toContain('  started  2026-03-04T12:01:02.000Z');
    expect(unknown[1]).toBe('  prompt   A cat');
    expect(unknown.join('\n')).not.toMatch(/null|running|done in/);
  });

  it('shows a finished job with no standing, and its start time', () => {
    const lines = videoLines({
      ...VIDEO,
      status: 'COMPLETED',
      progress: 100,
      startedAt: '2026-03-04T12:01:02.000Z',
      video: { bytes: 1234, sha256: 'ab12' },
    });

    expect(lines).toEqual([
      'job_01  COMPLETED  100%',
      '  prompt   A cat',
      '  model    sora-2 720x1280 4s',
      '  client   alice',
      '  created  2026-03-04T12:00:00.000Z',
      '  started  2026-03-04T12:01:02.000Z',
      '  video    1234 bytes, sha256 ab12',
    ]);
  });

  it('names a priority other than normal, and when a waiting job is cancelled unless it starts', () => {
    const lines = videoLines({ ...VIDEO, priority: 'high', startTimeoutSeconds: 600 });

    expect(lines).toContain('  priority high');
    expect(lines).toContain(
      '  timeout  cancelled unless started by 2026-03-04T12:10:00.000Z (600 s)',
    );
    expect(videoLines(VIDEO).join('\n')).not.toMatch(/priority|timeout/);
  });
});

describe('videoTable (list)', () => {
  it("adds a waiting job's place and ETA and a running job's ETA to its status, nothing unknown", () => {
    const rows = videoTable([
      { ...VIDEO, id: 'job_03', queue: { position: 3, etaSeconds: 130 } },
      { ...VIDEO, id: 'job_02', queue: { position: 2, etaSeconds: null } },
      { ...VIDEO, id: 'job_01', status: 'IN_PROGRESS', progress: 40, etaSeconds: 38 },
      { ...VIDEO, id: 'job_00', status: 'IN_PROGRESS', progress: 10, etaSeconds: null },
    ]);

    const statuses = rows.map((row) => row.split(/ {2,}/)[1]);
    expect(statuses).toEqual([
      'STATUS',
      'QUEUED #3 ~2m',
      'QUEUED #2',
      'IN_PROGRESS ~40s',
      'IN_PROGRESS',
    ]);
    expect(rows.join('\n')).not.toContain('null');
  });
});
