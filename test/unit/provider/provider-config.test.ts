import { describe, expect, it } from 'vitest';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
  estimateCostUsd,
  modelProvider,
  type ProviderConfig,
  parseProviderConfig,
  providerConfigFromEnv,
  resolveVideoParams,
} from '../../../functions/shared/provider/provider-config.ts';
import { VideoParamsError } from '../../../functions/shared/provider/video-params-error.ts';
import { configError } from '../../support/provider-config-fixture.ts';

const minimal = { baseUrl: 'https://api.example.com/v1', apiKey: 'sk-test-key' };

function paramsError(run: () => unknown): VideoParamsError {
  try {
    run();
  } catch (error) {
    if (error instanceof VideoParamsError) return error;
    throw error;
  }
  throw new Error('expected a VideoParamsError');
}

const validSpec = {
  sizes: ['1280x720'],
  seconds: ['5'],
  defaultSize: '1280x720',
  defaultSeconds: '5',
  pricePerSecondUsd: 0.2,
};

describe('parseProviderConfig', () => {
  it('applies the published sora-2 defaults when only base URL and key are given', () => {
    // Act
    const config = parseProviderConfig(minimal);

    // Assess
    expect(config.defaultModel).toBe('sora-2');
    expect(config.timeoutMs).toBe(60_000);
    expect(config.maxRetries).toBe(2);
    expect(config.models['sora-2']).toMatchObject({
      sizes: ['720x1280', '1280x720', '1024x1792', '1792x1024'],
      seconds: ['4', '8', '12'],
      defaultSize: '720x1280',
      defaultSeconds: '4',
      pricePerSecondUsd: 0.1,
    });
    expect(config.models['sora-2-pro']?.sizes).toEqual(
      expect.arrayContaining(['1920x1080', '1080x1920']),
    );
    expect(config.models['sora-2-pro']?.pricePerSecondUsd).toBe(0.3);
  });

  it('strips a trailing slash from the base URL', () => {
    // Act
    const config = parseProviderConfig({ ...minimal, baseUrl: 'http://127.0.0.1:4010/v1/' });

    // Assess
    expect(config.baseUrl).toBe('http://127.0.0.1:4010/v1');
  });

  it('gives every parse its own catalogue, so mutating one config cannot leak into another', () => {
    // Prepare
    const first = parseProviderConfig(minimal);

    // Act
    first.models['sora-2']?.sizes.push('1x1');
    const second = parseProviderConfig(minimal);

    // Assess
    expect(second.models['sora-2']?.sizes).not.toContain('1x1');
  });

  it.each([
    ['baseUrl', { apiKey: 'k' }, /baseUrl is required/],
    ['baseUrl', { ...minimal, baseUrl: 'not a url' }, /baseUrl must be an http\(s\) URL/],
    ['baseUrl', { ...minimal, baseUrl: 'ftp://example.com/v1' }, /baseUrl must be an http/],
    ['apiKey', { baseUrl: minimal.baseUrl }, /apiKey is required/],
    ['apiKey', { ...minimal, apiKey: '' }, /apiKey is required/],
    ['defaultModel', { ...minimal, defaultModel: 'veo-3' }, /"veo-3" is not in models/],
    ['timeoutMs', { ...minimal, timeoutMs: 0 }, /timeoutMs/],
    ['timeoutMs', { ...minimal, timeoutMs: 1.5 }, /timeoutMs/],
    ['maxRetries', { ...minimal, maxRetries: -1 }, /maxRetries/],
    ['models', { ...minimal, models: {} }, /models must list at least one model/],
    [
      'models.m.sizes[0]',
      { ...minimal, defaultModel: 'm', models: { m: { ...validSpec, sizes: ['wide'] } } },
      /WIDTHxHEIGHT/,
    ],
    [
      'models.m.seconds[0]',
      { ...minimal, defaultModel: 'm', models: { m: { ...validSpec, seconds: ['five'] } } },
      /whole seconds/,
    ],
    [
      'models.m.defaultSize',
      { ...minimal, defaultModel: 'm', models: { m: { ...validSpec, defaultSize: '720x1280' } } },
      /must be one of 1280x720/,
    ],
    [
      'models.m.defaultSeconds',
      { ...minimal, defaultModel: 'm', models: { m: { ...validSpec, defaultSeconds: '4' } } },
      /must be one of 5/,
    ],
    [
      'models.m.pricePerSecondUsd',
      { ...minimal, defaultModel: 'm', models: { m: { ...validSpec, pricePerSecondUsd: -1 } } },
      /pricePerSecondUsd/,
    ],
    [
      'models.m.pricePerSecondUsdBySize.720x1280',
      {
        ...minimal,
        defaultModel: 'm',
        models: { m: { ...validSpec, pricePerSecondUsdBySize: { '720x1280': 1 } } },
      },
      /prices a size the model does not list/,
    ],
  ])('names %s when it is invalid', (field, input, message) => {
    // Act
    const error = configError(() => parseProviderConfig(input));

    // Assess
    expect(error.name).toBe('ProviderConfigError');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('never echoes the API key in its error message', () => {
    // Act
    const error = configError(() =>
      parseProviderConfig({ baseUrl: 'nope', apiKey: 'sk-very-secret-value' }),
    );

    // Assess
    expect(error.message).not.toContain('sk-very-secret-value');
  });
});

describe('providerConfigFromEnv', () => {
  it('reads the base URL, model, catalogue and timeout, and takes the key from the caller', () => {
    // Prepare
    const env = {
      PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
      PROVIDER_MODEL: 'veo-3',
      PROVIDER_MODELS: JSON.stringify({ 'veo-3': validSpec }),
      PROVIDER_TIMEOUT_MS: '15000',
      PROVIDER_MAX_RETRIES: '1',
      PROVIDER_AUTH_HEADER: 'api-key',
      OPENAI_API_KEY: 'sk-from-env-must-be-ignored',
    };

    // Act
    const config = providerConfigFromEnv(env, 'sk-from-secrets-manager');

    // Assess
    expect(config).toEqual({
      baseUrl: 'http://127.0.0.1:4010/v1',
      apiKey: 'sk-from-secrets-manager',
      authHeader: 'api-key',
      defaultModel: 'veo-3',
      models: { 'veo-3': { ...validSpec, provider: 'openai-videos' } },
      timeoutMs: 15_000,
      maxRetries: 1,
    });
  });

  it('names the environment variable when PROVIDER_BASE_URL is missing', () => {
    // Act
    const error = configError(() => providerConfigFromEnv({}, 'k'));

    // Assess
    expect(error.field).toBe('baseUrl');
    expect(error.message).toContain('PROVIDER_BASE_URL');
  });

  it('names PROVIDER_MODELS when it is not JSON', () => {
    // Act
    const error = configError(() =>
      providerConfigFromEnv({ PROVIDER_BASE_URL: minimal.baseUrl, PROVIDER_MODELS: '{oops' }, 'k'),
    );

    // Assess
    expect(error.field).toBe('models');
    expect(error.message).toContain('PROVIDER_MODELS');
  });

  it('names PROVIDER_TIMEOUT_MS when it is not a number', () => {
    // Act
    const error = configError(() =>
      providerConfigFromEnv(
        { PROVIDER_BASE_URL: minimal.baseUrl, PROVIDER_TIMEOUT_MS: 'soon' },
        'k',
      ),
    );

    // Assess
    expect(error.field).toBe('timeoutMs');
    expect(error.message).toContain('PROVIDER_TIMEOUT_MS');
  });

  it('refuses a catalogue override that does not contain the default model', () => {
    // Act
    const error = configError(() =>
      providerConfigFromEnv(
        { PROVIDER_BASE_URL: minimal.baseUrl, PROVIDER_MODELS: JSON.stringify({ m: validSpec }) },
        'k',
      ),
    );

    // Assess
    expect(error.field).toBe('defaultModel');
    expect(error.message).toContain('defaultModel (PROVIDER_MODEL) "sora-2" is not in models (m)');
  });
});

describe('resolveVideoParams', () => {
  const config: ProviderConfig = parseProviderConfig(minimal);

  it('fills in the default model, size and seconds', () => {
    expect(resolveVideoParams(config, {})).toEqual({
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
    });
  });

  it('keeps valid explicit values and turns numeric seconds into the protocol string', () => {
    expect(
      resolveVideoParams(config, { model: 'sora-2-pro', size: '1920x1080', seconds: 12 }),
    ).toEqual({ model: 'sora-2-pro', size: '1920x1080', seconds: '12' });
  });

  it.each([
    ['model', { model: 'sora-3' }, /allowed: sora-2, sora-2-pro/],
    ['size', { size: '1920x1080' }, /allowed: 720x1280, 1280x720, 1024x1792, 1792x1024/],
    ['seconds', { seconds: '10' }, /allowed: 4, 8, 12/],
    ['seconds', { seconds: 4.5 }, /allowed: 4, 8, 12/],
  ] as const)(
    'names %s and lists the allowed values when it is not supported',
    (field, input, message) => {
      // Act
      const error = paramsError(() => resolveVideoParams(config, input));

      // Assess
      expect(error.name).toBe('VideoParamsError');
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
    },
  );
});

describe('estimateCostUsd', () => {
  const config = parseProviderConfig(minimal);

  it('multiplies seconds by the model price', () => {
    expect(estimateCostUsd(config, { model: 'sora-2', seconds: '12' })).toBe(1.2);
    expect(estimateCostUsd(config, { model: 'sora-2-pro', seconds: '8' })).toBe(2.4);
  });

  it('uses the per-size price where the catalogue has one', () => {
    expect(estimateCostUsd(config, { model: 'sora-2-pro', seconds: '4', size: '1792x1024' })).toBe(
      2,
    );
    expect(estimateCostUsd(config, { model: 'sora-2-pro', seconds: '4', size: '1280x720' })).toBe(
      1.2,
    );
  });

  it('refuses an unknown model naming the model field', () => {
    const error = paramsError(() => estimateCostUsd(config, { model: 'nope', seconds: '4' }));
    expect(error.field).toBe('model');
  });
});

describe('a catalogue with Bedrock models', () => {
  const config = parseProviderConfig({
    ...minimal,
    models: { ...defaultModelCatalogue(), ...bedrockModelCatalogue() },
  });

  it('routes each model to its provider, /v1/videos unless the catalogue says bedrock', () => {
    expect(modelProvider(config, 'sora-2')).toBe('openai-videos');
    expect(modelProvider(config, 'luma.ray-v2:0')).toBe('bedrock');
  });

  it('prices Ray2 per second: $1.50 at 720p, $0.75 at 540p', () => {
    expect(
      estimateCostUsd(config, { model: 'luma.ray-v2:0', seconds: '5', size: '1280x720' }),
    ).toBe(7.5);
    expect(estimateCostUsd(config, { model: 'luma.ray-v2:0', seconds: '9', size: '960x540' })).toBe(
      6.75,
    );
  });

  it('defaults Ray2 to 1280x720 for 5 seconds', () => {
    expect(resolveVideoParams(config, { model: 'luma.ray-v2:0', prompt: 'a cat' })).toEqual({
      model: 'luma.ray-v2:0',
      size: '1280x720',
      seconds: '5',
    });
  });

  it("refuses a prompt over Ray2's 5,000 characters before anything starts, naming prompt", () => {
    const error = paramsError(() =>
      resolveVideoParams(config, { model: 'luma.ray-v2:0', prompt: 'x'.repeat(5001) }),
    );
    expect(error.field).toBe('prompt');
    expect(error.message).toMatch(/1 to 5000 characters/);
  });

  it('refuses a Bedrock catalogue entry with a size or duration Ray2 does not render', () => {
    const error = configError(() =>
      parseProviderConfig({
        ...minimal,
        defaultModel: 'luma.ray-v2:0',
        models: {
          'luma.ray-v2:0': {
            provider: 'bedrock',
            sizes: ['1920x1080'],
            seconds: ['4'],
            defaultSize: '1920x1080',
            defaultSeconds: '4',
            pricePerSecondUsd: 1.5,
          },
        },
      }),
    );
    expect(error.message).toMatch(/"1920x1080" is not a Ray2 frame size/);
    expect(error.message).toMatch(/"4" is not a Ray2 duration/);
  });

  it('refuses a Bedrock model it has no request model for', () => {
    const error = configError(() =>
      parseProviderConfig({
        ...minimal,
        defaultModel: 'amazon.nova-reel-v1:1',
        models: { 'amazon.nova-reel-v1:1': { ...validSpec, provider: 'bedrock', seconds: ['5'] } },
      }),
    );
    expect(error.field).toBe('models.amazon.nova-reel-v1:1.provider');
  });
});
