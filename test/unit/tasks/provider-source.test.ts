import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../../functions/shared/config/plain-config.ts';
import type { JobProvider } from '../../../functions/shared/provider/job-provider.ts';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
  type ProviderConfig,
  providerSettingsFromEnv,
} from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import { keyForDeployment } from '../../../functions/shared/provider-factory/deployment-keys.ts';
import { createProviderSource } from '../../../functions/shared/provider-factory/provider-from-env.ts';
import {
  type StubServer,
  sendJson,
  startStubServer,
  videoObject,
} from '../provider/stub-server.ts';

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

describe('createProviderSource with deployments', () => {
  // Three endpoints (two regions and the base URL) that answer every retrieve, recording the
  // key each call carried.
  let eastus: StubServer;
  let westus: StubServer;
  let base: StubServer;
  const answering = () =>
    startStubServer((request, res) => {
      const id = request.url.split('/').pop() ?? '';
      sendJson(res, 200, videoObject({ id }));
    });
  beforeAll(async () => {
    [eastus, westus, base] = await Promise.all([answering(), answering(), answering()]);
  });
  afterAll(async () => {
    await Promise.all([eastus.close(), westus.close(), base.close()]);
  });

  const pool = (deployments: Record<string, unknown>[]) =>
    providerSettingsFromEnv({
      PROVIDER_BASE_URL: base.baseUrl,
      PROVIDER_MODELS: JSON.stringify({
        ...defaultModelCatalogue(),
        'sora-2': { ...defaultModelCatalogue()['sora-2'], deployments },
      }),
    });
  const twoRegions = () =>
    pool([
      { id: 'eastus', baseUrl: eastus.baseUrl, maxConcurrent: 2 },
      { id: 'westus', baseUrl: westus.baseUrl },
    ]);
  const build = (config: ProviderConfig) => new VideoProvider(config);
  const keyMap = JSON.stringify({ default: 'sk-base', eastus: 'sk-east', westus: 'sk-west' });

  /** The bearer key of the last request `server` received. */
  const lastKey = (server: StubServer) => server.requests.at(-1)?.headers.authorization;

  it("sends each deployment's calls to its own baseUrl, with its key from the secret's map", async () => {
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => keyMap,
      build,
    });

    const fromEast = await (await source('eastus')).retrieve('video_east');
    const fromWest = await (await source('westus')).retrieve('video_west');
    const fromBase = await (await source()).retrieve('video_base');

    expect([fromEast.id, fromWest.id, fromBase.id]).toEqual([
      'video_east',
      'video_west',
      'video_base',
    ]);
    expect(eastus.requests.at(-1)?.url).toBe('/v1/videos/video_east');
    expect(lastKey(eastus)).toBe('Bearer sk-east');
    expect(westus.requests.at(-1)?.url).toBe('/v1/videos/video_west');
    expect(lastKey(westus)).toBe('Bearer sk-west');
    expect(base.requests.at(-1)?.url).toBe('/v1/videos/video_base');
    expect(lastKey(base)).toBe('Bearer sk-base');
  });

  it('sends one plain key to every deployment', async () => {
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => 'sk-one-for-all',
      build,
    });

    await (await source('westus')).retrieve('video_1');

    expect(lastKey(westus)).toBe('Bearer sk-one-for-all');
  });

  it("uses a deployment's own apiKey (the local stack's) without reading the secret", async () => {
    const readSecret = vi.fn(async () => keyMap);
    const source = createProviderSource({
      settings: pool([{ id: 'eastus', baseUrl: eastus.baseUrl, apiKey: 'sk-local-east' }]),
      secretId,
      readSecret,
      build,
    });

    await (await source('eastus')).retrieve('video_1');

    expect(lastKey(eastus)).toBe('Bearer sk-local-east');
    expect(readSecret).not.toHaveBeenCalled();
  });

  it('builds one client per deployment, even with one key for all, and reuses it', async () => {
    const { configs, build: recording } = recordingBuild();
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => 'sk-one-for-all',
      build: recording,
    });

    const east = await source('eastus');
    const eastAgain = await source('eastus');
    const west = await source('westus');

    expect(eastAgain).toBe(east);
    expect(west).not.toBe(east);
    expect(configs.map((config) => config.baseUrl)).toEqual([eastus.baseUrl, westus.baseUrl]);
  });

  it("builds a new client for a deployment whose key was rotated, and keeps the others'", async () => {
    let secret = keyMap;
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => secret,
      build,
    });
    const eastBefore = await source('eastus');
    const westBefore = await source('westus');
    secret = JSON.stringify({ default: 'sk-base', eastus: 'sk-east-2', westus: 'sk-west' });

    const eastAfter = await source('eastus');
    const westAfter = await source('westus');
    await eastAfter.retrieve('video_1');

    expect(eastAfter).not.toBe(eastBefore);
    expect(westAfter).toBe(westBefore);
    expect(lastKey(eastus)).toBe('Bearer sk-east-2');
  });

  it("names a deployment missing from the secret's map, quoting no key", async () => {
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => JSON.stringify({ eastus: 'sk-east-secret' }),
      build,
    });

    const refused = source('westus');

    await expect(refused).rejects.toThrow(ConfigurationError);
    await expect(refused).rejects.toThrow(/no key for deployment "westus" \(it maps eastus\)/);
    await expect(refused).rejects.not.toThrow(/sk-east-secret/);
  });

  it('refuses a deployment no model lists, naming it', async () => {
    const source = createProviderSource({
      settings: twoRegions(),
      secretId,
      readSecret: async () => keyMap,
      build,
    });

    await expect(source('northeurope')).rejects.toThrow(
      /Deployment "northeurope" is not in the model catalogue/,
    );
  });

  it('sends a /v1/videos model to the deployment and a Bedrock model to Bedrock, built once', async () => {
    const calls: string[] = [];
    const bedrock = {
      retrieve: async (id: string) => {
        calls.push(`bedrock ${id}`);
        return { id };
      },
    };
    const buildBedrock = vi.fn(() => bedrock as unknown as JobProvider);
    const models = {
      ...defaultModelCatalogue(),
      ...bedrockModelCatalogue(),
      'sora-2': {
        ...defaultModelCatalogue()['sora-2'],
        deployments: [{ id: 'eastus', baseUrl: eastus.baseUrl }],
      },
    };
    const source = createProviderSource({
      settings: providerSettingsFromEnv({
        PROVIDER_BASE_URL: base.baseUrl,
        PROVIDER_MODELS: JSON.stringify(models),
      }),
      secretId,
      bedrock: { bucket: 'videos-bucket', region: undefined },
      readSecret: async () => keyMap,
      build,
      buildBedrock,
    });
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:async-invoke/abc';

    await (await source('eastus')).retrieve('video_east');
    await (await source('eastus')).retrieve(arn);
    await (await source()).retrieve(arn);

    expect(eastus.requests.at(-1)?.url).toBe('/v1/videos/video_east');
    expect(calls).toEqual([`bedrock ${arn}`, `bedrock ${arn}`]);
    expect(buildBedrock).toHaveBeenCalledTimes(1);
  });
});

describe('keyForDeployment', () => {
  it('gives every deployment a plain key', () => {
    expect(keyForDeployment('sk-plain', 'eastus', secretId)).toBe('sk-plain');
  });

  it('gives each deployment its key from a JSON object, trimmed', () => {
    expect(keyForDeployment('{"eastus":" sk-east "}', 'eastus', secretId)).toBe('sk-east');
  });

  it.each([
    ['an empty key', '{"eastus":"","westus":"sk-west-secret"}'],
    ['a key that is not a string', '{"eastus":42,"westus":"sk-west-secret"}'],
  ])('refuses %s as no key for the deployment', (_case, secret) => {
    expect(() => keyForDeployment(secret, 'eastus', secretId)).toThrow(
      /no key for deployment "eastus"/,
    );
  });

  it('refuses a secret that starts like a JSON object but is not one, quoting none of it', () => {
    const secret = '{"eastus":"sk-east-secret"';

    expect(() => keyForDeployment(secret, 'eastus', secretId)).toThrow(ConfigurationError);
    expect(() => keyForDeployment(secret, 'eastus', secretId)).not.toThrow(/sk-east-secret/);
  });
});
