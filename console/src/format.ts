import { ACTIVE_STATUSES } from '../../functions/shared/jobs/job-status.ts';
import { serverNow } from './server-clock.ts';

/**
 * Dollars, the one money format of the console: cents ($0.40, $7.50), and tenths of a cent only
 * under $0.10, where cents would round a real amount away ($0.012).
 */
export function usd(amount: number | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  const decimals = amount !== 0 && Math.abs(amount) < 0.1 ? 3 : 2;
  return `$${amount.toFixed(decimals)}`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" from an ISO time. */
export function age(iso: string, now = serverNow()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

export function dateTime(iso: string | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

/** Statuses in which a job can still change. */
export function isActive(status: string): boolean {
  return (ACTIVE_STATUSES as readonly string[]).includes(status);
}

export function statusLabel(status: string): string {
  return status.replace('_', ' ').toLowerCase();
}

export function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/**
 * An estimate in seconds as a person reads it: "~40 s", "~2 min", "~1 h 10 min", in steps of 5 s
 * and whole minutes so a live page does not flicker with the estimate's noise. A copy of the CLI's
 * (infra/local/standing-text.ts; the console is built without it), but with no-break spaces: a
 * duration never breaks over two lines. test/unit/console/format.test.ts holds the two equal.
 */
export function approxDuration(seconds: number): string {
  if (seconds < 57.5) return `~${Math.max(5, Math.round(seconds / 5) * 5)}\u00a0s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `~${minutes}\u00a0min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `~${hours}\u00a0h` : `~${hours}\u00a0h ${rest}\u00a0min`;
}

/** A duration given in seconds, exactly: "45 s", "90 s", "10 min", "1 h", "1 h 30 min". */
export function duration(seconds: number): string {
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds}\u00a0s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = (seconds % 3600) / 60;
  if (hours === 0) return `${minutes}\u00a0min`;
  return minutes === 0 ? `${hours}\u00a0h` : `${hours}\u00a0h ${minutes}\u00a0min`;
}

/** The fields of a job that say where it stands (GET /videos/{id}; a list may lack them). */
export interface Standing {
  queue?: { position: number; etaSeconds: number | null } | undefined;
  etaSeconds?: number | null | undefined;
}

const known = (seconds: number | null | undefined): seconds is number =>
  typeof seconds === 'number' && Number.isFinite(seconds);

/** A waiting job's place in line ("#3 in line"); '' when the API gives none. */
export function placeInLine(job: Standing): string {
  return job.queue ? `#${job.queue.position} in line` : '';
}

/** When a waiting or running job is expected done ("~2 min"); '' when unknown. */
export function eta(job: Standing): string {
  const seconds = job.queue ? job.queue.etaSeconds : job.etaSeconds;
  return known(seconds) ? approxDuration(seconds) : '';
}

/** "#3 in line, done in ~2 min", "done in ~40 s", "#3 in line"; '' when nothing is known. */
export function standingText(job: Standing): string {
  const when = eta(job);
  return [placeInLine(job), when && `done in ${when}`].filter(Boolean).join(', ');
}
