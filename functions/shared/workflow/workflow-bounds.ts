/**
 * Counts that bound one execution of the generation state machine, shared by the handlers that
 * enforce them and the CDK construct whose Choice states check them again (no imports here, so
 * the CDK app can read them without loading any handler code).
 */

/**
 * How often one execution's create step waits for the next minute's request allowance before it
 * gives its slot back and goes back to the schedule.
 */
export const MAX_RATE_WAITS = 5;

/**
 * Polls per execution. At the wait policy's longest wait (60 s) that is half an hour; a job
 * still rendering then is continued by a new execution (RecordFailure resumes it), so no
 * execution's history grows with the provider's slowness.
 */
export const MAX_POLLS_PER_EXECUTION = 30;

/**
 * Executions that may take over one job after its first (a crash, a timeout, retries spent, the
 * poll bound): bounds the work one job can cause.
 */
export const MAX_RESUMES = 5;
