/**
 * The API server's clock as seen through its `Date` headers: ages ("5 min ago") are measured
 * on it, so a browser whose clock is off (or the local stack's accelerated clock) still shows
 * true ages.
 */
let offsetMs = 0;

export function noteServerDate(header: string | null): void {
  if (!header) return;
  const server = Date.parse(header);
  if (Number.isFinite(server)) offsetMs = server - Date.now();
}

export function serverNow(): number {
  return Date.now() + offsetMs;
}
