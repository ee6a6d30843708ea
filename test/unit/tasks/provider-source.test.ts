import { describe, expect, it, vi } from 'vitest';
import {
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
