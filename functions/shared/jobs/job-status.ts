/**
 * A job's statuses and the moves between them, written once. The job store's conditional writes
 * are built from this table (a write names the status it moves the job to, and DynamoDB checks the
 * job is in one of the statuses allowed to reach it), so a rule changed here changes every write.
 */

export const JOB_STATUSES = ['QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * Where a job may go from each status. QUEUED and IN_PROGRESS go both ways (a job without a
 * provider job can be put back to wait, a parked job is started again); a status that leads
 * nowhere is terminal, and a terminal job never changes again, so a late or repeated step can
 * never undo an outcome.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  QUEUED: ['QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'],
  IN_PROGRESS: ['QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

export const TERMINAL_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => JOB_TRANSITIONS[status].length === 0,
);

export const ACTIVE_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => JOB_TRANSITIONS[status].length > 0,
);

/**
 * Whether a job in `status` never changes again. Any string: the console and the CLI read the
 * status off the wire (an unknown one is not terminal).
 */
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Whether a job in `from` may be written as `to`. */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

/** The statuses a job must be in for a write to move it to `to`. */
export function statusesLeadingTo(to: JobStatus): readonly JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
}
