import { describe, expect, it } from 'vitest';
import {
  approxDuration,
  progressLabel,
  shortStandingText,
  standingText,
} from '../../../infra/local/standing-text.ts';

describe('approxDuration', () => {
  it('gives seconds in steps of 5 under a minute, never less than ~5 s', () => {
    expect(approxDuration(40)).toBe('~40 s');
    expect(approxDuration(42.4)).toBe('~40 s');
    expect(approxDuration(43)).toBe('~45 s');
    expect(approxDuration(55)).toBe('~55 s');
    expect(approxDuration(1)).toBe('~5 s');
    expect(approxDuration(0)).toBe('~5 s');
  });

  it('gives whole minutes from a minute, then hours and minutes', () => {
    expect(approxDuration(58)).toBe('~1 min');
    expect(approxDuration(90)).toBe('~2 min');
    expect(approxDuration(130)).toBe('~2 min');
    expect(approxDuration(3560)).toBe('~59 min');
    expect(approxDuration(3580)).toBe('~1 h');
    expect(approxDuration(4200)).toBe('~1 h 10 min');
  });

  it('has a short form for a table cell', () => {
    expect(approxDuration(40, 'short')).toBe('~40s');
    expect(approxDuration(130, 'short')).toBe('~2m');
    expect(approxDuration(7200, 'short')).toBe('~2h');
    expect(approxDuration(4200, 'short')).toBe('~1h10m');
  });
});

describe('standingText', () => {
  it("says a waiting job's place in line and when it is expected done", () => {
    const waiting = { status: 'QUEUED', queue: { position: 3, etaSeconds: 130 } };

    expect(standingText(waiting)).toBe('#3 in line, done in ~2 min');
    expect(shortStandingText(waiting)).toBe('#3 ~2m');
    expect(progressLabel(waiting)).toBe('queued: #3 in line, done in ~2 min');
  });

  it('gives only the place in line when the ETA is unknown', () => {
    const waiting = { status: 'QUEUED', queue: { position: 1, etaSeconds: null } };

    expect(standingText(waiting)).toBe('#1 in line');
    expect(shortStandingText(waiting)).toBe('#1');
    expect(progressLabel(waiting)).toBe('queued: #1 in line');
  });

  it('says when a running job is expected done, and nothing when that is unknown', () => {
    const running = { status: 'IN_PROGRESS', etaSeconds: 38 };

    expect(standingText(running)).toBe('done in ~40 s');
    expect(shortStandingText(running)).toBe('~40s');
    expect(progressLabel(running)).toBe('in progress: done in ~40 s');
    for (const unknown of [{ etaSeconds: null }, {}]) {
      expect(standingText({ status: 'IN_PROGRESS', ...unknown })).toBe('');
      expect(shortStandingText({ status: 'IN_PROGRESS', ...unknown })).toBe('');
      expect(progressLabel({ status: 'IN_PROGRESS', ...unknown })).toBe('in progress');
    }
  });

  it('says nothing of an ended job or one the API gives no standing for', () => {
    expect(progressLabel({ status: 'COMPLETED' })).toBe('completed');
    expect(progressLabel({ status: 'QUEUED' })).toBe('queued');
  });
});
