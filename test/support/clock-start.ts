/**
 * The last noon UTC, ms since the epoch: where a local stack's clock starts in tests that count
 * "today" (usage, the daily budget). Fast clocks started just before midnight UTC would cross into
 * the next day mid-test; from noon, even an hour of test at x50 stays within the day.
 */
export function lastNoonUtc(now: number = Date.now()): number {
  const noon = new Date(now);
  noon.setUTCHours(12, 0, 0, 0);
  return noon.getTime() <= now ? noon.getTime() : noon.getTime() - 24 * 3600_000;
}
