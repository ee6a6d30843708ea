import { describe, expect, it, vi } from 'vitest';
import type { ProviderConfig } from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import {
  createProviderSource,
  ProviderEnvironmentError,
} from '../../../functions/shared/provider-factory/provider-from-env.ts';

const env = {
  PROVIDER_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:provider-key',
  PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
  PROVIDER_MODEL: 'sora-2',
};

function recordingBuild() {
  const configs: ProviderConfig[] = [];
  const build = (config: ProviderConfig) => {
    configs.push(config);
    return new VideoProvider(config);
  };
  return { configs, build };
}

describe('createProviderSource', () => {
  it('builds the client from the environment and the key in the named secret', async () => {
    const readSecret = vi.fn(async () => 'sk-test-key-1');
    const { configs, build } = recordingBuild();

    const provider = await createProviderSource({ env, readSecret, build })();

    expect(provider).toBeInstanceOf(VideoProvider);
    expect(readSecret).toHaveBeenCalledWith(env.PROVIDER_SECRET_ID);
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
    const source = createProviderSource({ env, readSecret: async () => 'sk-test-key-1', build });

    const first = await source();
    const second = await source();

    expect(second).toBe(first);
    expect(configs).toHaveLength(1);
  });

  it('builds a new client after the key is rotated', async () => {
    let key = 'sk-test-key-1';
    const { build } = recordingBuild();
    const source = createProviderSource({ env, readSecret: async () => key, build });
    const before = await source();
    key = 'sk-test-key-2';

    const after = await source();

    expect(after).not.toBe(before);
  });

  it('names PROVIDER_SECRET_ID when it is missing', async () => {
    const source = createProviderSource({
      env: { PROVIDER_BASE_URL: env.PROVIDER_BASE_URL },
      readSecret: async () => 'sk-test-key-1',
    });

    const result = source();

    await expect(result).rejects.toThrow(ProviderEnvironmentError);
    await expect(result).rejects.toThrow(/PROVIDER_SECRET_ID/);
  });

  it('names PROVIDER_BASE_URL when the provider configuration lacks it', async () => {
    const source = createProviderSource({
      env: { PROVIDER_SECRET_ID: env.PROVIDER_SECRET_ID },
      readSecret: async () => 'sk-test-key-1',
    });

    await expect(source()).rejects.toThrow(/PROVIDER_BASE_URL/);
  });
});
