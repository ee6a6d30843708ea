import { describe, expect, it } from 'vitest';
import type { LocalStackInfo, LocalStackLimits } from '../../../infra/local/local-stack.ts';
import { clockCatchUpNote, startBanner } from '../../../infra/local/start-banner.ts';

const INFO: LocalStackInfo = {
  apiUrl: 'http://127.0.0.1:4000',
  consoleUrl: 'http://127.0.0.1:4001/#token=t',
  headers: { Authorization: 'Bearer t' },
  clients: {},
  s3Endpoint: 'http://127.0.0.1:5000',
  bucket: 'videos',
  dynamodbEndpoint: 'http://127.0.0.1:8000',
  table: 'jobs',
  providerBaseUrl: 'http://127.0.0.1:6000/v1',
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
  dropFolders: [],
};

const DEFAULTS: LocalStackLimits = {
  maxConcurrentJobs: 4,
  requestsPerMinute: 20,
  dailyBudgetUsd: null,
  overBudgetAction: 'queue',
  clientRate: { requestsPerWindow: 20, windowSeconds: 2 },
};

function banner(
  limits: LocalStackLimits,
  speed = 1,
  clientSettings?: Parameters<typeof startBanner>[0]['clientSettings'],
): string {
  return startBanner({
    info: INFO,
    limits,
    speed,
    readySeconds: 12.3,
    dataDir: '.local',
    stackInfoFile: '.local/stack.json',
    realProvider: false,
    ...(clientSettings ? { clientSettings } : {}),
  });
}

const lineOf = (text: string, label: string) =>
  text.split('\n').find((line) => line.startsWith(`  ${label}`));

describe('the npm start banner', () => {
  it('shows the limits, the budget and the client rate in force, and where they are set', () => {
    const text = banner(DEFAULTS);

    expect(lineOf(text, 'Limits')).toBe(
      '  Limits       4 jobs at the provider at once; 20 provider requests a minute',
    );
    expect(lineOf(text, 'Budget')).toBe(
      '  Budget       none: spending is recorded, nothing is held back',
    );
    expect(lineOf(text, 'Client rate')).toBe(
      '  Client rate  20 requests per 2 s per client, then 429 (--client-rate)',
    );
    expect(text).toContain('budget:dailyUsd and budget:overBudgetAction');
  });

  it('shows a daily budget with what happens to a job over it, either way', () => {
    const queued = banner({ ...DEFAULTS, dailyBudgetUsd: 25, overBudgetAction: 'queue' });
    const rejected = banner({ ...DEFAULTS, dailyBudgetUsd: 12.5, overBudgetAction: 'reject' });

    expect(lineOf(queued, 'Budget')).toBe(
      '  Budget       $25.00 a day (UTC); a job it cannot cover waits for a later day',
    );
    expect(lineOf(rejected, 'Budget')).toBe(
      '  Budget       $12.50 a day (UTC); a job it cannot cover is refused (FAILED budget_exceeded)',
    );
  });

  it("says limits turned off are off, and rates count on the stack's clock when it is faster", () => {
    const off = banner({
      ...DEFAULTS,
      maxConcurrentJobs: 2,
      requestsPerMinute: 0,
      clientRate: { requestsPerWindow: 0, windowSeconds: 2 },
    });
    const fast = banner(DEFAULTS, 50);

    expect(lineOf(off, 'Limits')).toBe(
      '  Limits       2 jobs at the provider at once; provider requests not limited',
    );
    expect(lineOf(off, 'Client rate')).toBe('  Client rate  not limited (--client-rate)');
    expect(lineOf(fast, 'Limits')).toContain("20 provider requests a minute (stack's clock)");
    expect(lineOf(fast, 'Client rate')).toContain("per client (stack's clock)");
  });
});

describe("the clients' shares, in the banner", () => {
  it("lists each client's settings and what the others get, when any are set", () => {
    const text = banner(DEFAULTS, 1, {
      bob: { weight: 1, maxConcurrent: 2, dailyBudgetUsd: 2 },
      alice: { maxConcurrent: 1 },
    });
    const lines = text.split('\n');
    const first = lines.findIndex((line) => line.startsWith('  Shares'));

    expect(lines.slice(first, first + 3)).toEqual([
      '  Shares       bob: weight 1, at most 2 jobs at once, $2.00 a day of its own',
      '               alice: weight 1, at most 1 job at once',
      '               others: weight 1, no cap or budget of their own (--client-settings)',
    ]);
  });

  it('has no shares line when no client has settings', () => {
    expect(lineOf(banner(DEFAULTS, 1, {}), 'Shares')).toBeUndefined();
    expect(lineOf(banner(DEFAULTS), 'Shares')).toBeUndefined();
  });
});

describe('the clock catching up, in the banner', () => {
  it('says how far ahead the clock is, why, and when it meets the wall clock', () => {
    const now = Date.parse('2026-12-07T10:27:00Z');

    expect(
      clockCatchUpNote({ aheadMs: 27 * 60_000, meetsWallClockAtMs: now + 54 * 60_000 }, now),
    ).toBe(
      'Clock        27.0 min ahead of the wall clock, left by a faster run (npm run generate runs at x20): at x0.5 until it meets the wall clock at 11:21 UTC (--fresh starts at the wall clock)',
    );
    expect(
      clockCatchUpNote({ aheadMs: 20 * 3_600_000, meetsWallClockAtMs: now + 40 * 3_600_000 }, now),
    ).toContain('20.0 h ahead of the wall clock');
    expect(
      clockCatchUpNote({ aheadMs: 20 * 3_600_000, meetsWallClockAtMs: now + 40 * 3_600_000 }, now),
    ).toContain('meets the wall clock at 2026-12-09 02:27 UTC');
  });
});
