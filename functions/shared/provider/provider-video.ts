import type { Video } from 'openai/resources/videos';

/** Lifecycle of a provider job: queued -> in_progress -> completed | failed. */
export type ProviderVideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

const STATUSES: ReadonlySet<string> = new Set(['queued', 'in_progress', 'completed', 'failed']);

/** A provider job as the rest of the code sees it. Timestamps are Unix seconds, as on the wire. */
export interface ProviderVideo {
  id: string;
  status: ProviderVideoStatus;
  /** 0..100 */
  progress: number;
  model: string;
  size: string;
  seconds: string;
  prompt: string | undefined;
  createdAt: number;
  completedAt: number | undefined;
  /** After this the content can no longer be downloaded. */
  expiresAt: number | undefined;
  error: { code: string; message: string } | undefined;
  remixedFromVideoId: string | undefined;
}

/**
 * Normalizes a `video` object from the wire. /v1/videos-compatible services are not all
 * faithful, so missing fields get neutral values instead of `null`s leaking into the domain.
 * An unknown status is reported as `failed` with code `unexpected_status` rather than polled
 * forever.
 */
export function toProviderVideo(video: Video): ProviderVideo {
  const rawStatus = String(video.status);
  const known = STATUSES.has(rawStatus);
  const status = (known ? rawStatus : 'failed') as ProviderVideoStatus;
  const error = video.error
    ? { code: String(video.error.code ?? 'unknown'), message: String(video.error.message ?? '') }
    : known
      ? undefined
      : { code: 'unexpected_status', message: `provider reported status "${rawStatus}"` };
  return {
    id: video.id,
    status,
    progress: clampProgress(video.progress),
    model: String(video.model ?? ''),
    size: String(video.size ?? ''),
    seconds: String(video.seconds ?? ''),
    prompt: video.prompt ?? undefined,
    createdAt: timestamp(video.created_at) ?? 0,
    completedAt: timestamp(video.completed_at),
    expiresAt: timestamp(video.expires_at),
    error,
    remixedFromVideoId: video.remixed_from_video_id ?? undefined,
  };
}

function clampProgress(progress: unknown): number {
  const value = typeof progress === 'number' && Number.isFinite(progress) ? progress : 0;
  return Math.min(100, Math.max(0, value));
}

function timestamp(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
