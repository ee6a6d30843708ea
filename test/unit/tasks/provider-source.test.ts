import { describe, expect, it, vi } from 'vitest';
import type { JobProvider } from '../../../functions/shared/provider/job-provider.ts';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
  type ProviderConfig,
  providerSettingsFromEnv,
} from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import { createProviderSource } from '../../../functions/shared/provider-factory/provider-from-env.ts';

const secretId = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:provider-key';
const settings = providerSettingsFromEnv({
  PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
  PROVIDER_MODEL: 'sora-2',
});

function recordingBuild() {
  const configs: ProviderConfig[] = [];
  const build = (config: ProviderConfig) => {
    configs.push(config);
    return new VideoProvider(config);
  };
  return { configs, build };
}

describe('createProviderSource', () => {
  it('builds the client from the settings and the key in the named secret', async () => {
    const readSecret = vi.fn(async () => 'sk-test-key-1');
    const { configs, build } = recordingBuild();

    const provider = await createProviderSource({ settings, secretId, readSecret, build })();

    expect(provider).toBeInstanceOf(VideoProvider);
    expect(readSecret).toHaveBeenCalledWith(secretId);
    expect(configs).toEqual([
      expect.objectContaining({
        baseUrl: 'http://127.0.0.1:4010/v1',
        apiKey: 'sk-test-key-1',
        defaultModel: 'sora-2',
      }),
    ]);
  });

  it('reuses one client per container while the key stays the same', async () => {
    const { configs, build } = recordingBuild();
    const source = createProviderSource({
      settings,
      secretId,
      readSecret: async () => 'sk-test-key-1',
      build,
    });

    const first = await source();
    const second = await source();

    expect(second).toBe(first);
    expect(configs).toHaveLength(1);
  });

  it('builds a new client after the key is rotated', async () => {
    let key = 'sk-test-key-1';
    const { build } = recordingBuild();
    const source = createProviderSource({ settings, secretId, readSecret: async () => key, build });
    const before = await source();
    key = 'sk-test-key-2';

    const after = await source();

    expect(after).not.toBe(before);
  });
});

describe('createProviderSource with Bedrock models in the catalogue', () => {
  const catalogue = JSON.stringify({ ...defaultModelCatalogue(), ...bedrockModelCatalogue() });
  const bedrockOnly = JSON.stringify(bedrockModelCatalogue());
  const ARN = 'arn:aws:bedrock:us-east-1:123456789012:async-invoke/abc';
  const settingsWith = (env: Record<string, string>) =>
    providerSettingsFromEnv({ PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1', ...env });

  function fakeProvider(name: string, calls: string[]): JobProvider {
    const video = (id: string) => ({ id, name }) as never;
    return {
      create: async (request) => {
        calls.push(`${name}.create ${request.model}`);
        return video(name === 'bedrock' ? ARN : 'video_1');
      },
      retrieve: async (id) => {
        calls.push(`${name}.retrieve ${id}`);
        return video(id);
      },
      remix: async (id) => {
        calls.push(`${name}.remix ${id}`);
        return video(id);
      },
      findCreatedJob: async () => undefined,
      downloadContent: async () => ({}) as never,
      delete: async (id) => ({ id, deleted: true }),
    };
  }

  it('routes each call to the provider of its model, or of its provider job id', async () => {
    const calls: string[] = [];
    const videos = fakeProvider('videos', calls);
    const source = createProviderSource({
      settings: settingsWith({ PROVIDER_MODELS: catalogue }),
      secretId,
      bedrock: { bucket: 'videos-bucket', region: undefined },
      readSecret: async () => 'sk-test-key-1',
      build: () => videos as VideoProvider,
      buildBedrock: () => fakeProvider('bedrock', calls),
    });
    const provider = await source();
    const create = { prompt: 'p', size: '1280x720', seconds: '5', idempotencyKey: 'k' };

    await provider.create({ ...create, model: 'luma.ray-v2:0' });
    await provider.create({ ...create, model: 'sora-2', seconds: '4' });
    await provider.retrieve(ARN);
    await provider.retrieve('video_1');

    expect(calls).toEqual([
      'bedrock.create luma.ray-v2:0',
      'videos.create sora-2',
      `bedrock.retrieve ${ARN}`,
      'videos.retrieve video_1',
    ]);
  });

  it('reads no API key while only Bedrock models are used (IAM authorizes Bedrock)', async () => {
    const readSecret = vi.fn(async () => 'sk-test-key-1');
    const calls: string[] = [];
    const source = createProviderSource({
      settings: settingsWith({ PROVIDER_MODEL: 'luma.ray-v2:0', PROVIDER_MODELS: bedrockOnly }),
      secretId,
      bedrock: { bucket: 'b', region: undefined },
      readSecret,
      buildBedrock: () => fakeProvider('bedrock', calls),
    });

    await (await source()).retrieve(ARN);

    expect(readSecret).not.toHaveBeenCalled();
    expect(calls).toEqual([`bedrock.retrieve ${ARN}`]);
  });

  it('names BEDROCK_OUTPUT_BUCKET on a Bedrock call when it is missing, and still serves /v1/videos', async () => {
    const calls: string[] = [];
    const source = createProviderSource({
      settings: settingsWith({ PROVIDER_MODELS: catalogue }),
      secretId,
      readSecret: async () => 'sk-test-key-1',
      build: () => fakeProvider('videos', calls) as VideoProvider,
    });
    const provider = await source();

    await expect(provider.retrieve(ARN)).rejects.toThrow(/BEDROCK_OUTPUT_BUCKET/);
    await provider.retrieve('video_1');
    expect(calls).toEqual(['videos.retrieve video_1']);
  });
});
