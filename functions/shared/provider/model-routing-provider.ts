import type { JobProvider } from './job-provider.ts';
import { modelProvider, type ProviderConfig } from './provider-config.ts';
import type { ProviderVideo } from './provider-video.ts';
import type {
  ContentVariant,
  CreateVideoRequest,
  FindCreatedJobCriteria,
  FindCreatedJobOptions,
  RemixVideoRequest,
  VideoContent,
} from './video-provider.ts';

/** Bedrock names an invocation by its ARN; a /v1/videos id never looks like one. */
export function isBedrockInvocationArn(id: string): boolean {
  return /^arn:aws[a-z-]*:bedrock:[^:]*:\d*:async-invoke\//.test(id);
}

/**
 * One provider per model of the catalogue (`"provider": "openai-videos"` or `"bedrock"`), so one
 * deployment can offer both: a create goes where its model lives, and every later call goes where
 * the provider job's id says it was created. Each side is built on first use.
 */
export class ModelRoutingProvider implements JobProvider {
  readonly #config: ProviderConfig;
  readonly #videos: () => Promise<JobProvider>;
  readonly #bedrock: () => Promise<JobProvider>;

  constructor(
    config: ProviderConfig,
    providers: { videos: () => Promise<JobProvider>; bedrock: () => Promise<JobProvider> },
  ) {
    this.#config = config;
    this.#videos = providers.videos;
    this.#bedrock = providers.bedrock;
  }

  async create(request: CreateVideoRequest): Promise<ProviderVideo> {
    return (await this.#forModel(request.model)).create(request);
  }

  async remix(videoId: string, request: RemixVideoRequest): Promise<ProviderVideo> {
    return (await this.#forId(videoId)).remix(videoId, request);
  }

  async retrieve(videoId: string): Promise<ProviderVideo> {
    return (await this.#forId(videoId)).retrieve(videoId);
  }

  async findCreatedJob(
    criteria: FindCreatedJobCriteria,
    options?: FindCreatedJobOptions,
  ): Promise<ProviderVideo | undefined> {
    return (await this.#forModel(criteria.model)).findCreatedJob(criteria, options);
  }

  async downloadContent(videoId: string, variant?: ContentVariant): Promise<VideoContent> {
    return (await this.#forId(videoId)).downloadContent(videoId, variant);
  }

  async delete(videoId: string): Promise<{ id: string; deleted: boolean }> {
    return (await this.#forId(videoId)).delete(videoId);
  }

  async discardContent(videoId: string): Promise<void> {
    await (await this.#forId(videoId)).discardContent?.(videoId);
  }

  #forModel(model: string): Promise<JobProvider> {
    return modelProvider(this.#config, model) === 'bedrock' ? this.#bedrock() : this.#videos();
  }

  #forId(videoId: string): Promise<JobProvider> {
    return isBedrockInvocationArn(videoId) ? this.#bedrock() : this.#videos();
  }
}
