import { z } from 'zod';

/** What a model accepts, and how slowly it renders compared with sora-2. */
export interface ModelSpec {
  /** 'WxH' values; the first one is the default. */
  sizes: string[];
  /** Clip lengths as strings ('4', '8', ...); the first one is the default. */
  seconds: string[];
  /** Render-time multiplier relative to sora-2 (1). */
  renderFactor?: number;
}

/** Model id -> spec; the first model is the default when a request names none. */
export type ModelCatalogue = Record<string, ModelSpec>;

const standardSizes = ['720x1280', '1280x720', '1024x1792', '1792x1024'];

export const defaultModels: ModelCatalogue = {
  'sora-2': { sizes: standardSizes, seconds: ['4', '8', '12'], renderFactor: 1 },
  'sora-2-pro': {
    sizes: [...standardSizes, '1920x1080', '1080x1920'],
    seconds: ['4', '8', '12'],
    renderFactor: 2.5,
  },
};

/** Everything that shapes the simulator's behaviour; all of it can change at runtime. */
export interface SimulatorKnobs {
  /** Only this bearer token is accepted; null accepts any non-empty token. */
  apiKey: string | null;
  /** Divides every simulated duration (queueing, rendering, content TTL, rate window). */
  speed: number;
  /** Seeds ids, durations and injected faults; same seed, same run. */
  seed: number;
  /** Accepted requests per (speed-scaled) minute before answering 429; null: unlimited. */
  requestsPerMinute: number | null;
  /** Which requests the per-minute limit counts: video creations (the provider's limit) or all. */
  rateLimitScope: 'create' | 'all';
  /** Creations beyond this many queued/in_progress jobs answer 429; null: unlimited. */
  maxConcurrentJobs: number | null;
  /** Fraction (0..1) of requests answered 500/503, drawn from the seeded generator. */
  serverErrorRate: number;
  /** The next N requests answer 503 with Retry-After. */
  failNextRequests: number;
  /**
   * Every request answers 503 with Retry-After, Bedrock's too: a deployment that is down. Unlike
   * `failNextRequests` nothing runs out, and unlike `serverErrorRate: 1` (half of them 500)
   * every answer is the same refusal, so a health check sees one steady outage.
   */
  unavailable: boolean;
  /** Added before every response. */
  latencyMs: number;
  /**
   * The next N creates (or remixes) start their job, then reset the connection instead of
   * answering: the "did my create go through?" case a client must reconcile.
   */
  dropNextCreateResponses: number;
  /** Content downloads: the connection is reset after this many body bytes; null: off. */
  dropConnectionAfterBytes: number | null;
  /** Content downloads: full Content-Length announced, body closed after N bytes; null: off. */
  truncateContentBytes: number | null;
  /** The video variant is padded to exactly this many bytes; null: the fixture's own size. */
  contentSizeBytes: number | null;
  /** Content stays downloadable this long after completion (scaled by speed). */
  contentTtlSeconds: number;
  /** A prompt containing this is refused with 400 moderation_blocked. */
  moderationMarker: string;
  /** A prompt containing this renders for a while, then fails. */
  renderFailureMarker: string;
  /**
   * Error messages quote the prompt, as some providers' moderation answers do (tests that no
   * prompt reaches the logs). Off by default, as on OpenAI.
   */
  quotePromptInErrors: boolean;
  /** Models, sizes and clip lengths accepted. */
  models: ModelCatalogue;
}

export const defaultKnobs: Omit<SimulatorKnobs, 'seed'> = {
  apiKey: null,
  speed: 1,
  requestsPerMinute: null,
  rateLimitScope: 'create',
  maxConcurrentJobs: null,
  serverErrorRate: 0,
  failNextRequests: 0,
  unavailable: false,
  latencyMs: 0,
  dropNextCreateResponses: 0,
  dropConnectionAfterBytes: null,
  truncateContentBytes: null,
  contentSizeBytes: null,
  contentTtlSeconds: 3600,
  moderationMarker: '[moderation-block]',
  renderFailureMarker: '[render-fail]',
  quotePromptInErrors: false,
  models: defaultModels,
};

const count = z.number().int().nonnegative();
const modelSpecSchema = z.strictObject({
  sizes: z.array(z.string().regex(/^\d+x\d+$/, 'expected WxH')).min(1),
  seconds: z.array(z.string().regex(/^\d+$/, 'expected a whole number as a string')).min(1),
  renderFactor: z.number().positive().optional(),
});

/** Validates a partial set of knobs (options, CLI flags or `configure()`), naming the bad one. */
export const knobsSchema = z
  .strictObject({
    apiKey: z.string().min(1).nullable(),
    speed: z.number().positive().finite(),
    seed: z.number().int(),
    requestsPerMinute: z.number().int().positive().nullable(),
    rateLimitScope: z.enum(['create', 'all']),
    maxConcurrentJobs: z.number().int().positive().nullable(),
    serverErrorRate: z.number().min(0).max(1),
    failNextRequests: count,
    unavailable: z.boolean(),
    latencyMs: z.number().nonnegative().finite(),
    dropNextCreateResponses: count,
    dropConnectionAfterBytes: count.nullable(),
    truncateContentBytes: count.nullable(),
    contentSizeBytes: count.nullable(),
    contentTtlSeconds: z.number().nonnegative().finite(),
    moderationMarker: z.string().min(1),
    renderFailureMarker: z.string().min(1),
    quotePromptInErrors: z.boolean(),
    models: z
      .record(z.string().min(1), modelSpecSchema)
      .refine((models) => Object.keys(models).length > 0, 'at least one model'),
  })
  .partial();

export class InvalidKnobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidKnobError';
  }
}

/** Parses knobs, dropping keys left undefined so they do not override current values. */
export function parseKnobs(input: unknown): Partial<SimulatorKnobs> {
  const defined =
    typeof input === 'object' && input !== null
      ? Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
      : input;
  const result = knobsSchema.safeParse(defined);
  if (!result.success) {
    throw new InvalidKnobError(`Invalid simulator option: ${z.prettifyError(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}
