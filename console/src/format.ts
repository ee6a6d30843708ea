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
  return status === 'QUEUED' || status === 'IN_PROGRESS';
}

export function statusLabel(status: string): string {
  return status.replace('_', ' ').toLowerCase();
}

export function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
