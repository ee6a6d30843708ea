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

  it('waits a share of the remaining time estimated from the average rate when there is no earlier poll', () => {
    // 50 % in 40 s: 40 s left (the queue counted as rendering), wait 0.7 of it.
    const wait = nextWaitSeconds({
      progress: 50,
      elapsedSeconds: 40,
      pollCount: 1,
      expectedSeconds,
    });

    expect(wait).toBe(Math.ceil(DEFAULT_WAIT_POLICY.fraction * 40));
  });

  it('predicts the completion from the rate since the previous poll and waits until just after it', () => {
    // 10 points in the last 10 s, 20 to go: done in 20 s (the average rate would say 16.5);
    // wait that plus the margin.
    const wait = nextWaitSeconds({
      progress: 80,
      elapsedSeconds: 66,
      pollCount: 4,
      expectedSeconds,
      previous: { progress: 70, elapsedSeconds: 56 },
    });

    expect(wait).toBe(Math.ceil(20 * (1 + DEFAULT_WAIT_POLICY.predictionMargin)));
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
