/**
 * A short-lived GET link to an object of the videos bucket. Made by presigned-content-link.ts,
 * which the API imports with the first request that needs a link: the S3 SDK it uses is not
 * loaded by a cold start that only reads or lists jobs.
 */
export type ContentLink = (key: string) => Promise<string>;

/**
 * Links live five minutes: long enough to start a download (S3 checks the expiry when the
 * request starts, not while it streams), short enough that a leaked link is soon useless.
 */
export const CONTENT_LINK_TTL_SECONDS = 300;
