import { invalidValue, videoNotFound } from './api-error.ts';
import { createPrng, type Prng } from './prng.ts';

export type VideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

/** The wire shape of a video, as the SDK's `Video` type describes it. */
export interface VideoObject {
  id: string;
  object: 'video';
  created_at: number;
  completed_at: number | null;
  expires_at: number | null;
  error: { code: string; message: string } | null;
  model: string;
  progress: number;
  prompt: string | null;
  remixed_from_video_id: string | null;
  seconds: string;
  size: string;
  status: VideoStatus;
}

export type InputReference =
  | { kind: 'file'; contentType: string; bytes: number; filename: string | null }
  | { kind: 'image_url'; imageUrl: string }
  | { kind: 'file_id'; fileId: string };

/** A validated creation request. */
export interface VideoParams {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  remixedFromVideoId: string | null;
  inputReference: InputReference | null;
  idempotencyKey: string | null;
}

/** How a job's timeline is drawn when it is created. */
export interface TimelineSettings {
  speed: number;
  contentTtlSeconds: number;
  renderFactor: number;
  willFail: boolean;
}

/** A job's whole life, fixed at creation; its status at any instant follows from the clock. */
interface VideoRecord extends VideoParams {
  id: string;
  createdAtMs: number;
  /** Leaves the queue and starts rendering. */
  startsAtMs: number;
  /** Completes, or fails, at this instant. */
  endsAtMs: number;
  /** The full render time; a failing job stops part-way through it. */
  renderMs: number;
  outcome: 'completed' | 'failed';
  /** Content stops being downloadable (completed jobs only). */
  expiresAtMs: number | null;
  deletedAtMs: number | null;
}

/** What tests can see of a job beyond its wire shape. */
export interface VideoSnapshot {
  id: string;
  status: VideoStatus;
  deleted: boolean;
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  remixedFromVideoId: string | null;
  inputReference: InputReference | null;
  idempotencyKey: string | null;
  createdAtMs: number;
  startsAtMs: number;
  endsAtMs: number;
}

export interface ListQuery {
  after: string | null;
  limit: number;
  order: 'asc' | 'desc';
}

export interface VideoList {
  object: 'list';
  data: VideoObject[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export const renderFailure = {
  code: 'video_generation_failed',
  message: 'Video generation failed: the renderer could not complete this prompt.',
};

/** Video jobs in creation order, with their lazily computed lifecycle. */
export class VideoStore {
  // Deleted jobs stay here (marked) so list cursors pointing at them keep working.
  private readonly records: VideoRecord[] = [];
  private readonly byId = new Map<string, VideoRecord>();
  private ids: Prng;
  private durations: Prng;

  constructor(seed: number) {
    this.ids = createPrng(seed, 'ids');
    this.durations = createPrng(seed, 'durations');
  }

  reseed(seed: number): void {
    this.ids = createPrng(seed, 'ids');
    this.durations = createPrng(seed, 'durations');
  }

  create(params: VideoParams, nowMs: number, settings: TimelineSettings): VideoRecord {
    let id = `video_${this.ids.hex(24)}`;
    while (this.byId.has(id)) id = `video_${this.ids.hex(24)}`;
    const queueMs = (this.durations.between(1, 6) * 1000) / settings.speed;
    const renderMs =
      (renderSeconds(params, settings.renderFactor) * this.durations.between(0.85, 1.15) * 1000) /
      settings.speed;
    // A failing render gives up somewhere in its middle.
    const failAfter = settings.willFail ? this.durations.between(0.3, 0.7) : 1;
    const startsAtMs = nowMs + queueMs;
    const endsAtMs = startsAtMs + renderMs * failAfter;
    const record: VideoRecord = {
      ...params,
      id,
      createdAtMs: nowMs,
      startsAtMs,
      endsAtMs,
      renderMs,
      outcome: settings.willFail ? 'failed' : 'completed',
      expiresAtMs: settings.willFail
        ? null
        : endsAtMs + (settings.contentTtlSeconds * 1000) / settings.speed,
      deletedAtMs: null,
    };
    this.records.push(record);
    this.byId.set(id, record);
    return record;
  }

  /** Puts back a job a journal kept (journal.ts), as it was created; a known id is kept as is. */
  restore(record: VideoRecord): VideoRecord {
    const known = this.byId.get(record.id);
    if (known) return known;
    const copy = { ...record };
    this.records.push(copy);
    this.byId.set(copy.id, copy);
    return copy;
  }

  /** A live (not deleted) job, or a 404. */
  get(id: string): VideoRecord {
    const record = this.byId.get(id);
    if (!record || record.deletedAtMs !== null) throw videoNotFound(id);
    return record;
  }

  delete(id: string, nowMs: number): void {
    this.get(id).deletedAtMs = nowMs;
  }

  list(query: ListQuery, nowMs: number): VideoList {
    const ordered = query.order === 'asc' ? this.records : [...this.records].reverse();
    let start = 0;
    if (query.after !== null) {
      const index = ordered.findIndex((record) => record.id === query.after);
      if (index < 0) throw invalidValue('after', `No video found with id '${query.after}'.`);
      start = index + 1;
    }
    const page: VideoRecord[] = [];
    let index = start;
    for (; index < ordered.length && page.length < query.limit; index++) {
      const record = ordered[index];
      if (record && record.deletedAtMs === null) page.push(record);
    }
    const hasMore = ordered.slice(index).some((record) => record.deletedAtMs === null);
    const data = page.map((record) => toVideoObject(record, nowMs));
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: hasMore,
    };
  }

  /** Jobs created and not yet completed, failed or deleted at `atMs`. */
  activeJobsAt(atMs: number): number {
    return this.records.filter((r) => r.createdAtMs <= atMs && atMs < activeUntil(r)).length;
  }

  /** The most jobs ever active at once up to `nowMs`, from the jobs' intervals. */
  maxConcurrentJobs(nowMs: number): number {
    const events: Array<[number, number]> = [];
    for (const record of this.records) {
      if (record.createdAtMs > nowMs) continue;
      events.push([record.createdAtMs, 1], [activeUntil(record), -1]);
    }
    // At equal instants, an end comes before a start: back-to-back jobs never overlap.
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let active = 0;
    let max = 0;
    for (const [, delta] of events) {
      active += delta;
      max = Math.max(max, active);
    }
    return max;
  }

  /** The earliest instant after `nowMs` at which an active job ends (for Retry-After). */
  nextJobEndAfter(nowMs: number): number | null {
    let next: number | null = null;
    for (const record of this.records) {
      const end = activeUntil(record);
      if (record.createdAtMs <= nowMs && end > nowMs && (next === null || end < next)) next = end;
    }
    return next;
  }

  snapshots(nowMs: number): VideoSnapshot[] {
    return this.records.map((record) => ({
      id: record.id,
      status: statusAt(record, nowMs),
      deleted: record.deletedAtMs !== null,
      prompt: record.prompt,
      model: record.model,
      size: record.size,
      seconds: record.seconds,
      remixedFromVideoId: record.remixedFromVideoId,
      inputReference: record.inputReference,
      idempotencyKey: record.idempotencyKey,
      createdAtMs: record.createdAtMs,
      startsAtMs: record.startsAtMs,
      endsAtMs: record.endsAtMs,
    }));
  }
}

export type { VideoRecord };

export function statusAt(record: VideoRecord, nowMs: number): VideoStatus {
  if (nowMs < record.startsAtMs) return 'queued';
  if (nowMs < record.endsAtMs) return 'in_progress';
  return record.outcome;
}

export function toVideoObject(record: VideoRecord, nowMs: number): VideoObject {
  const status = statusAt(record, nowMs);
  const completed = status === 'completed';
  return {
    id: record.id,
    object: 'video',
    created_at: toUnixSeconds(record.createdAtMs),
    completed_at: completed ? toUnixSeconds(record.endsAtMs) : null,
    expires_at: completed && record.expiresAtMs !== null ? toUnixSeconds(record.expiresAtMs) : null,
    error: status === 'failed' ? { ...renderFailure } : null,
    model: record.model,
    progress: progressAt(record, nowMs),
    prompt: record.prompt,
    remixed_from_video_id: record.remixedFromVideoId,
    seconds: record.seconds,
    size: record.size,
    status,
  };
}

function progressAt(record: VideoRecord, nowMs: number): number {
  if (record.outcome === 'completed' && nowMs >= record.endsAtMs) return 100;
  if (nowMs < record.startsAtMs) return 0;
  // A failed job keeps the progress it had reached when it failed.
  const elapsed = Math.min(nowMs, record.endsAtMs) - record.startsAtMs;
  return Math.min(99, Math.floor((elapsed / record.renderMs) * 100));
}

function activeUntil(record: VideoRecord): number {
  return record.deletedAtMs === null
    ? record.endsAtMs
    : Math.min(record.endsAtMs, record.deletedAtMs);
}

// Roughly what sora-2 took: ~55 s for a 4 s clip, ~2 min for 12 s; bigger frames take longer.
function renderSeconds(params: VideoParams, renderFactor: number): number {
  const [width = 720, height = 1280] = params.size.split('x').map(Number);
  const sizeFactor = Math.sqrt((width * height) / (720 * 1280));
  return (20 + 8.5 * Number(params.seconds)) * renderFactor * sizeFactor;
}

const toUnixSeconds = (ms: number): number => Math.floor(ms / 1000);
