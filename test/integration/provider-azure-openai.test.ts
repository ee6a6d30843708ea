import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseProviderConfig } from '../../functions/shared/provider/provider-config.ts';
import { ProviderRejectedError } from '../../functions/shared/provider/provider-errors.ts';
import { VideoProvider } from '../../functions/shared/provider/video-provider.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

// Azure OpenAI's v1 API in the shape the guide documents: base URL
// https://<resource>.openai.azure.com/openai/v1, the key in an `api-key` header, and deployment
// names as models. The simulator stands in for the resource.

const API_KEY = 'azure-resource-key-0123456789';
const DEPLOYMENT = 'contoso-sora-2';

let simulator: RunningSimulator;
const sentHeaders: Headers[] = [];

/** The documented configuration, pointed at the simulator. */
function azureProvider(apiKey: string) {
  const config = parseProviderConfig({
    baseUrl: `${simulator.url}/openai/v1`,
    apiKey,
    authHeader: 'api-key',
    defaultModel: DEPLOYMENT,
    models: {
      [DEPLOYMENT]: {
        sizes: ['720x1280', '1280x720'],
        seconds: ['4', '8', '12'],
        defaultSize: '720x1280',
        defaultSeconds: '4',
        pricePerSecondUsd: 0.1,
      },
    },
    timeoutMs: 5_000,
  });
  return new VideoProvider(config, {
    fetch: async (input, init) => {
      // Only the calls that reach the resource (the SDK also fetches to probe its runtime).
      if (String(input).startsWith(simulator.url)) sentHeaders.push(new Headers(init?.headers));
      return fetch(input, init);
    },
  });
}

beforeAll(async () => {
  simulator = await startSimulator({
    apiKey: API_KEY,
    speed: 1000,
    models: { [DEPLOYMENT]: { sizes: ['720x1280', '1280x720'], seconds: ['4', '8', '12'] } },
  });
});

afterAll(async () => {
  await simulator.close();
});

describe('Azure OpenAI (v1 API) through the /v1/videos client', () => {
  it('creates and completes a video on a deployment, authenticated by the api-key header only', async () => {
    const provider = azureProvider(API_KEY);
    sentHeaders.length = 0;

    const created = await provider.create({
      prompt: 'A cat playing piano',
      model: DEPLOYMENT,
      size: '1280x720',
      seconds: '4',
      idempotencyKey: 'sora-pipeline-job_azure_1',
    });
    const done = await vi.waitFor(
      async () => {
        const video = await provider.retrieve(created.id);
        if (video.status !== 'completed') throw new Error(`still ${video.status}`);
        return video;
      },
      { timeout: 10_000, interval: 20 },
    );

    expect(done.model).toBe(DEPLOYMENT);
    expect(sentHeaders.length).toBeGreaterThanOrEqual(2);
    for (const headers of sentHeaders) {
      expect(headers.get('api-key')).toBe(API_KEY);
      expect(headers.get('authorization')).toBeNull();
    }
  });

  it('is refused with a wrong key, as Azure refuses it', async () => {
    const error = await azureProvider('wrong-key-0000')
      .retrieve('video_missing')
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error).toMatchObject({ status: 401 });
  });
});
