import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WAIT_POLICY,
  expectedGenerationSeconds,
  nextWaitSeconds,
} from '../../../functions/shared/polling/wait-policy.ts';

const expectedSeconds = 60;

describe('nextWaitSeconds', () => {
  it('waits a share of the expected duration before the provider reports progress', () => {
    const wait = nextWaitSeconds({ progress: 0, elapsedSeconds: 0, pollCount: 0, expectedSeconds });

    expect(wait).toBe(15);
  });

  it('backs off in proportion to the time spent when a job queues longer than expected', () => {
    const wait = nextWaitSeconds({
      progress: 0,
      elapsedSeconds: 200,
      pollCount: 5,
      expectedSeconds,
    });

    expect(wait).toBe(13);
  });

  it('waits half the remaining time estimated from the average rate when there is no earlier poll', () => {
    // 50 % in 40 s: 40 s left, wait 20.
    const wait = nextWaitSeconds({
      progress: 50,
      elapsedSeconds: 40,
      pollCount: 1,
      expectedSeconds,
    });

    expect(wait).toBe(20);
  });

  it('uses the rate since the previous poll when progress slows down', () => {
    // 10 points in the last 20 s, 30 to go: 60 s left, wait 30 (the average rate would say 14).
    const wait = nextWaitSeconds({
      progress: 70,
      elapsedSeconds: 66,
      pollCount: 4,
      expectedSeconds,
      previous: { progress: 60, elapsedSeconds: 46 },
    });

    expect(wait).toBe(30);
  });

  it('polls at the minimum interval when completion is imminent', () => {
    const wait = nextWaitSeconds({
      progress: 98,
      elapsedSeconds: 60,
      pollCount: 6,
      expectedSeconds,
      previous: { progress: 90, elapsedSeconds: 55 },
    });

    expect(wait).toBe(DEFAULT_WAIT_POLICY.minSeconds);
  });

  it('lengthens the wait gradually while progress is stalled', () => {
    const wait = nextWaitSeconds({
      progress: 99,
      elapsedSeconds: 70,
      pollCount: 8,
      expectedSeconds,
      previous: { progress: 99, elapsedSeconds: 62 },
    });

    expect(wait).toBe(10);
  });

  it('never waits longer than the maximum, however slow the job', () => {
    const wait = nextWaitSeconds({
      progress: 1,
      elapsedSeconds: 100,
      pollCount: 1,
      expectedSeconds,
    });

    expect(wait).toBe(DEFAULT_WAIT_POLICY.maxSeconds);
  });

  it('raises the minimum once the soft poll budget is spent', () => {
    const wait = nextWaitSeconds({
      progress: 99,
      elapsedSeconds: 600,
      pollCount: DEFAULT_WAIT_POLICY.softPollBudget,
      expectedSeconds,
      previous: { progress: 98, elapsedSeconds: 598 },
    });

    expect(wait).toBe(DEFAULT_WAIT_POLICY.lateMinSeconds);
  });

  it('returns whole seconds for the Wait state', () => {
    const wait = nextWaitSeconds({
      progress: 33,
      elapsedSeconds: 17,
      pollCount: 2,
      expectedSeconds,
    });

    expect(Number.isInteger(wait)).toBe(true);
  });

  it('tolerates out-of-range inputs without returning a negative or infinite wait', () => {
    const wait = nextWaitSeconds({
      progress: 140,
      elapsedSeconds: -5,
      pollCount: 0,
      expectedSeconds,
    });

    expect(wait).toBe(DEFAULT_WAIT_POLICY.minSeconds);
  });
});

describe('expectedGenerationSeconds', () => {
  it('expects longer clips, pro models and larger frames to take longer', () => {
    const short = expectedGenerationSeconds({ model: 'sora-2', size: '720x1280', seconds: '4' });
    const long = expectedGenerationSeconds({ model: 'sora-2', size: '720x1280', seconds: '12' });
    const pro = expectedGenerationSeconds({ model: 'sora-2-pro', size: '720x1280', seconds: '4' });
    const large = expectedGenerationSeconds({ model: 'sora-2', size: '1792x1024', seconds: '4' });

    expect(short).toBeGreaterThan(30);
    expect(short).toBeLessThan(90);
    expect(long).toBeGreaterThan(short);
    expect(pro).toBeGreaterThan(short);
    expect(large).toBeGreaterThan(short);
  });

  it('falls back to a default for unparseable sizes and durations', () => {
    const expected = expectedGenerationSeconds({ model: 'veo', size: 'auto', seconds: 'x' });

    expect(Number.isFinite(expected)).toBe(true);
    expect(expected).toBeGreaterThan(0);
  });
});
