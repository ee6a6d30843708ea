import type { ApiClient, JobPage, ListQuery } from './api-client.ts';

/** Requests one page may take; past them the page is shown short, with its cursor. */
const MAX_READS = 5;

/**
 * A page of up to `limit` jobs that match the filters. The API reads `limit` records and then
 * applies a status or batch filter, so a filtered page can come back short, even empty, with a
 * cursor while nothing more matches (or while more does, further on). Reading on from the cursor
 * (a few requests at most) gives a full page or the last one, whose cursor is null: "Next page"
 * then means there is a next page.
 */
export async function readJobPage(
  api: ApiClient,
  query: ListQuery & { limit: number },
): Promise<JobPage> {
  const first = await api.listJobs(query);
  const videos = [...first.videos];
  let cursor = first.nextCursor;
  for (let reads = 1; reads < MAX_READS && cursor && videos.length < query.limit; reads += 1) {
    const more = await api.listJobs({ ...query, cursor, limit: query.limit - videos.length });
    videos.push(...more.videos);
    cursor = more.nextCursor;
  }
  return { videos, nextCursor: cursor };
}
