import { describe, expect, it } from 'vitest';
import {
  approxDuration,
  duration,
  eta,
  isActive,
  placeInLine,
  type Standing,
  standingText,
  usd,
} from '../../../console/src/format.ts';
import { approxDuration as cliApproxDuration } from '../../../infra/local/standing-text.ts';

describe('usd', () => {
  it('shows cents from $0.10 up, so $0.40 and $7.50 read alike', () => {
    expect(usd(0.4)).toBe('$0.40');
    expect(usd(0.1)).toBe('$0.10');
    expect(usd(7.5)).toBe('$7.50');
    expect(usd(1234.5)).toBe('$1234.50');
  });

  it('shows tenths of a cent under $0.10, where cents would round the amount away', () => {
    expect(usd(0.012)).toBe('$0.012');
    expect(usd(0.05)).toBe('$0.050');
  });

  it('shows nothing spent as $0.00 and no amount as a dash', () => {
    expect(usd(0)).toBe('$0.00');
    expect(usd(null)).toBe('—');
    expect(usd(undefined)).toBe('—');
  });
});

describe('approxDuration', () => {
  it("reads as the CLI's, its spaces no-break so a duration stays on one line", () => {
    for (let seconds = 0; seconds <= 3 * 3600; seconds += 7) {
      const shown = approxDuration(seconds);
      expect(shown.replaceAll('\u00a0', ' '), `${seconds} s`).toBe(cliApproxDuration(seconds));
      expect(shown).not.toMatch(/~\d+ /);
    }
  });
});

describe('duration', () => {
  it('gives a duration exactly, in the largest units that hold it whole', () => {
    expect(duration(45).replaceAll('\u00a0', ' ')).toBe('45 s');
    expect(duration(90).replaceAll('\u00a0', ' ')).toBe('90 s');
    expect(duration(600).replaceAll('\u00a0', ' ')).toBe('10 min');
    expect(duration(3600).replaceAll('\u00a0', ' ')).toBe('1 h');
    expect(duration(5400).replaceAll('\u00a0', ' ')).toBe('1 h 30 min');
  });
});

describe('standingText', () => {
  const text = (job: Standing) => standingText(job).replaceAll('\u00a0', ' ');

  it("gives a waiting job's place in line and ETA, or only its place when the ETA is unknown", () => {
    expect(text({ queue: { position: 3, etaSeconds: 130 } })).toBe('#3 in line, done in ~2 min');
    expect(text({ queue: { position: 3, etaSeconds: null } })).toBe('#3 in line');
    expect(placeInLine({ queue: { position: 3, etaSeconds: null } })).toBe('#3 in line');
  });

  it("gives a running job's ETA, and nothing when it is unknown or the API gives none", () => {
    expect(text({ etaSeconds: 38 })).toBe('done in ~40 s');
    expect(text({ etaSeconds: null })).toBe('');
    expect(text({})).toBe('');
    expect(eta({})).toBe('');
    expect(placeInLine({ etaSeconds: 38 })).toBe('');
  });
});

describe('isActive', () => {
  it('is true for a waiting or running job only (the statuses that can still change)', () => {
    const statuses = ['QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'UNKNOWN'];

    expect(statuses.filter(isActive)).toEqual(['QUEUED', 'IN_PROGRESS']);
  });
});
