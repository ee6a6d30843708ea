/** Where a job stands, as `GET /videos/{id}` shows it (computed by queue-standing.ts). */
export interface JobStanding {
  /**
   * A job waiting for a slot: `position` 1 is the next job to be admitted under the current
   * shares; `etaSeconds` until it is expected done (null without recent durations to go by).
   */
  queue?: { position: number; etaSeconds: number | null };
  /** A running job: seconds until it is expected done (null without recent durations). */
  etaSeconds?: number | null;
}
