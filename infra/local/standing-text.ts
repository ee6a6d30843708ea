// Where a job stands (the API's `queue` and `etaSeconds`), as the CLI and `npm run generate` print
// it. The web console keeps its own copy of approxDuration (console/src/format.ts: it is built
// without these modules); test/unit/console/format.test.ts holds the two equal.

/** The fields of a job (the API's Video) that say where it stands. */
export interface JobStandingFields {
  status: string;
  /** A job waiting for a slot: its place in line and when it is expected done. */
  queue?: { position: number; etaSeconds: number | null } | undefined;
  /** A running job: seconds until it is expected done; null when unknown. */
  etaSeconds?: number | null | undefined;
}

/**
 * An estimate in seconds as a person reads it: "~40 s", "~2 min", "~1 h 10 min" (`short`: "~40s",
 * "~2m", "~1h10m"). Seconds come in steps of 5 and minutes whole, so a live display does not
 * flicker with the estimate's noise; an estimate at or under zero reads "~5 s" (any moment now).
 */
export function approxDuration(seconds: number, style: 'long' | 'short' = 'long'): string {
  const [s, min, h, gap] = style === 'short' ? ['s', 'm', 'h', ''] : [' s', ' min', ' h', ' '];
  if (seconds < 57.5) return `~${Math.max(5, Math.round(seconds / 5) * 5)}${s}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `~${minutes}${min}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `~${hours}${h}` : `~${hours}${h}${gap}${rest}${min}`;
}

/** An ETA the API knows: a finite number (null, absent or garbage prints nothing). */
function known(seconds: number | null | undefined): seconds is number {
  return typeof seconds === 'number' && Number.isFinite(seconds);
}

/**
 * "#3 in line, done in ~2 min" for a job waiting for a slot, "done in ~40 s" for a running one;
 * '' when the API says nothing (a list, a deferred job, an ended one) or the ETA is unknown.
 */
export function standingText(job: JobStandingFields): string {
  if (job.queue) {
    const eta = job.queue.etaSeconds;
    return `#${job.queue.position} in line${known(eta) ? `, done in ${approxDuration(eta)}` : ''}`;
  }
  return known(job.etaSeconds) ? `done in ${approxDuration(job.etaSeconds)}` : '';
}

/** `standingText` for a table cell: "#3 ~2m", "~40s", ''. */
export function shortStandingText(job: JobStandingFields): string {
  if (job.queue) {
    const eta = job.queue.etaSeconds;
    return `#${job.queue.position}${known(eta) ? ` ${approxDuration(eta, 'short')}` : ''}`;
  }
  return known(job.etaSeconds) ? approxDuration(job.etaSeconds, 'short') : '';
}

/** A status as a label: "queued", "in progress". */
export function statusLabel(status: string): string {
  return status.toLowerCase().replace('_', ' ');
}

/** The label of a progress bar: "queued: #3 in line, done in ~2 min", "in progress", "completed". */
export function progressLabel(job: JobStandingFields): string {
  const standing = standingText(job);
  return standing ? `${statusLabel(job.status)}: ${standing}` : statusLabel(job.status);
}
