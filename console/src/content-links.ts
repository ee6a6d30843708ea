import type { ApiClient, Variant } from './api-client.ts';

// Presigned links live five minutes; reuse one for four, then ask again.
const REUSE_MS = 4 * 60 * 1000;
const cache = new Map<string, { url: Promise<string>; fetchedAt: number }>();

/** A presigned link to a stored file, shared by every element that shows it. */
export function contentLink(api: ApiClient, id: string, variant: Variant): Promise<string> {
  const key = `${id} ${variant}`;
  const cached = cache.get(key);
  if (cached && Date.now() - cached.fetchedAt < REUSE_MS) return cached.url;
  const url = api.contentLink(id, variant);
  cache.set(key, { url, fetchedAt: Date.now() });
  url.catch(() => cache.delete(key));
  return url;
}
