import type { ProviderVideo } from './provider-video.ts';
import type {
  ContentVariant,
  CreateVideoRequest,
  FindCreatedJobCriteria,
  FindCreatedJobOptions,
  RemixVideoRequest,
  VideoContent,
} from './video-provider.ts';

/**
 * What the workflow asks of a video provider, whoever serves the model: the /v1/videos client
 * (OpenAI, Azure OpenAI, a gateway) or Amazon Bedrock's async invocations. Every method throws
 * ProviderError subclasses only, so the state machine's Retry/Catch rules hold for both.
 */
export interface JobProvider {
  /** Starts a paid generation; never blindly retried (see VideoProvider.create). */
  create(request: CreateVideoRequest): Promise<ProviderVideo>;
  /** Starts a remix of a completed video (a provider without remixes refuses it). */
  remix(videoId: string, request: RemixVideoRequest): Promise<ProviderVideo>;
  retrieve(videoId: string): Promise<ProviderVideo>;
  /** The job an ambiguous create may have started, if the provider shows one. */
  findCreatedJob(
    criteria: FindCreatedJobCriteria,
    options?: FindCreatedJobOptions,
  ): Promise<ProviderVideo | undefined>;
  /** Opens the finished video (or a preview image) as a stream. */
  downloadContent(videoId: string, variant?: ContentVariant): Promise<VideoContent>;
  delete(videoId: string): Promise<{ id: string; deleted: boolean }>;
  /**
   * Drops the provider's own copy once the video is stored at its key (Bedrock writes into our
   * bucket, so storing it is a move). Optional: a /v1/videos provider's content expires by itself.
   */
  discardContent?(videoId: string): Promise<void>;
}
