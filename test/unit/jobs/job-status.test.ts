import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATUSES,
  canTransition,
  isTerminal,
  JOB_STATUSES,
  statusesLeadingTo,
  TERMINAL_STATUSES,
} from '../../../functions/shared/jobs/job-status.ts';

describe('job status transitions', () => {
  it('makes COMPLETED, FAILED and CANCELLED terminal, and only them', () => {
    expect(TERMINAL_STATUSES).toEqual(['COMPLETED', 'FAILED', 'CANCELLED']);
    // As the console and the CLI ask it, with a status read off the wire.
    expect(['QUEUED', 'IN_PROGRESS', 'DONE', ''].filter(isTerminal)).toEqual([]);
    expect(ACTIVE_STATUSES).toEqual(['QUEUED', 'IN_PROGRESS']);
  });

  it.each(JOB_STATUSES.filter(isTerminal))('never moves a %s job again', (from) => {
    for (const to of JOB_STATUSES) expect(canTransition(from, to)).toBe(false);
  });

  it('lets a waiting or running job be cancelled', () => {
    expect(statusesLeadingTo('CANCELLED')).toEqual(['QUEUED', 'IN_PROGRESS']);
  });

  it('lets a job without a provider job go back to waiting from IN_PROGRESS', () => {
    expect(canTransition('IN_PROGRESS', 'QUEUED')).toBe(true);
  });
});
