import { describe, expect, it } from 'vitest';
import { useClock } from '../../../functions/shared/clock.ts';
import { isJobId, newJobId } from '../../../functions/shared/jobs/job-id.ts';

// Step Functions execution names: 1..80 characters of [A-Za-z0-9_-].
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

describe('newJobId', () => {
  it('makes ids that are valid Step Functions execution names', () => {
    const ids = Array.from({ length: 200 }, () => newJobId());

    for (const id of ids) expect(id).toMatch(EXECUTION_NAME);
  });

  it('makes ids that sort by creation time as strings', () => {
    const earlier = newJobId(new Date('2026-01-01T00:00:00.000Z'));
    const later = newJobId(new Date('2026-01-01T00:00:00.001Z'));
    const muchLater = newJobId(new Date('2031-06-01T00:00:00.000Z'));

    expect([muchLater, later, earlier].sort()).toEqual([earlier, later, muchLater]);
  });

  it('makes distinct ids within the same millisecond', () => {
    const now = new Date();

    const ids = new Set(Array.from({ length: 1000 }, () => newJobId(now)));

    expect(ids.size).toBe(1000);
  });

  it('takes its time from the pipeline clock when given none', () => {
    const restore = useClock(() => Date.parse('2031-06-01T00:00:00.000Z'));
    try {
      const id = newJobId();

      expect(id.slice(0, 14)).toBe(newJobId(new Date('2031-06-01T00:00:00.000Z')).slice(0, 14));
    } finally {
      restore();
    }
  });

  it('rejects an invalid date', () => {
    expect(() => newJobId(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('isJobId', () => {
  it('accepts a new id and refuses other strings', () => {
    expect(isJobId(newJobId())).toBe(true);
    expect(isJobId('job_')).toBe(false);
    expect(isJobId(`${newJobId()}x`)).toBe(false);
    expect(isJobId('job_01JZ000000000000000000000I')).toBe(false);
    expect(isJobId('../etc/passwd')).toBe(false);
  });
});
