import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEPLOYMENT,
  deploymentById,
  deploymentEndpoint,
  deploymentsOf,
} from '../../../functions/shared/provider/deployments.ts';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
  parseProviderConfig,
  providerConfigFromEnv,
} from '../../../functions/shared/provider/provider-config.ts';
import { VideoParamsError } from '../../../functions/shared/provider/video-params-error.ts';
import { configError, TINY_MODEL_SPEC } from '../../support/provider-config-fixture.ts';

const BASE_URL = 'https://api.example.com/v1';
const EASTUS = 'https://eastus.example.com/openai/v1';
const WESTUS = 'https://westus.example.com/openai/v1';

const spec = TINY_MODEL_SPEC;

/** A catalogue whose sora-2 lists `deployments` (and sora-2-pro whatever `pro` says). */
function configWith(deployments: unknown, pro: Record<string, unknown> = {}) {
  return {
    baseUrl: BASE_URL,
    apiKey: 'sk-test',
    models: { 'sora-2': { ...spec, deployments }, 'sora-2-pro': { ...spec, ...pro } },
  };
}

describe('a catalogue with deployments', () => {
  it('takes a list of deployments, with a weight of 1 when none is given', () => {
    const config = parseProviderConfig(
      configWith([
        {
          id: 'eastus',
          baseUrl: `${EASTUS}/`,
          maxConcurrent: 2,
          requestsPerMinute: 10,
          weight: 3,
        },
        { id: 'westus-2', baseUrl: WESTUS },
      ]),
    );

    expect(config.models['sora-2']?.deployments).toEqual([
      { id: 'eastus', baseUrl: EASTUS, maxConcurrent: 2, requestsPerMinute: 10, weight: 3 },
      { id: 'westus-2', baseUrl: WESTUS, weight: 1 },
    ]);
  });

  it.each([
    ['an id with capitals', [{ id: 'EastUS', baseUrl: EASTUS }], 'deployments[0].id', /lowercase/],
    ['no id', [{ baseUrl: EASTUS }], 'deployments[0].id', /is required/],
    [
      'an id of 41 characters',
      [{ id: 'a'.repeat(41), baseUrl: EASTUS }],
      'deployments[0].id',
      /1 to 40/,
    ],
    [
      'an id listed twice',
      [
        { id: 'eastus', baseUrl: EASTUS },
        { id: 'eastus', baseUrl: EASTUS },
      ],
      'deployments[1].id',
      /"eastus" is listed twice/,
    ],
    [
      'a baseUrl that is not http(s)',
      [
        { id: 'eastus', baseUrl: EASTUS },
        { id: 'westus', baseUrl: 'ftp://westus.example.com/v1' },
      ],
      'deployments[1].baseUrl',
      /must be an http\(s\) URL/,
    ],
    ['no baseUrl', [{ id: 'eastus' }], 'deployments[0].baseUrl', /is required/],
    [
      'a weight of 0',
      [{ id: 'eastus', baseUrl: EASTUS, weight: 0 }],
      'deployments[0].weight',
      /above 0/,
    ],
    [
      'a fractional maxConcurrent',
      [{ id: 'eastus', baseUrl: EASTUS, maxConcurrent: 1.5 }],
      'deployments[0].maxConcurrent',
      /positive whole number/,
    ],
    [
      'a requestsPerMinute of 0',
      [{ id: 'eastus', baseUrl: EASTUS, requestsPerMinute: 0 }],
      'deployments[0].requestsPerMinute',
      /positive whole number/,
    ],
    [
      'an empty apiKey',
      [{ id: 'eastus', baseUrl: EASTUS, apiKey: '' }],
      'deployments[0].apiKey',
      /must not be empty/,
    ],
    [
      'a misspelt limit',
      [{ id: 'eastus', baseUrl: EASTUS, maxConcurent: 2 }],
      'deployments[0]',
      /maxConcurent/,
    ],
    ['an empty list', [], 'deployments', /at least one deployment/],
    ['a list that is not a list', { id: 'eastus' }, 'deployments', /must be a list of deployments/],
  ])('refuses %s, naming the field', (_case, deployments, field, message) => {
    const error = configError(() => parseProviderConfig(configWith(deployments)));

    expect(error.field).toBe(`models.sora-2.${field}`);
    expect(error.message).toMatch(message);
  });

  it('names the catalogue variable in the message of a bad field read from the environment', () => {
    const models = configWith([
      { id: 'eastus', baseUrl: EASTUS },
      { id: 'westus', baseUrl: 'not a url' },
    ]).models;

    const error = configError(() =>
      providerConfigFromEnv(
        { PROVIDER_BASE_URL: BASE_URL, PROVIDER_MODELS: JSON.stringify(models) },
        'k',
      ),
    );

    expect(error.problems).toEqual([
      'models.sora-2.deployments[1].baseUrl (PROVIDER_MODELS) must be an http(s) URL',
    ]);
  });

  it('refuses deployments on a Bedrock model', () => {
    const ray2 = bedrockModelCatalogue()['luma.ray-v2:0'];

    const error = configError(() =>
      parseProviderConfig({
        baseUrl: BASE_URL,
        apiKey: 'k',
        models: {
          ...defaultModelCatalogue(),
          'luma.ray-v2:0': { ...ray2, deployments: [{ id: 'eastus', baseUrl: EASTUS }] },
        },
      }),
    );

    expect(error.field).toBe('models.luma.ray-v2:0.deployments');
    expect(error.message).toMatch(/a Bedrock model has no deployments/);
  });

  it('refuses one id at two endpoints across models: a poll knows the id, not the model', () => {
    const error = configError(() =>
      parseProviderConfig(
        configWith([{ id: 'eastus', baseUrl: EASTUS }], {
          deployments: [{ id: 'eastus', baseUrl: WESTUS }],
        }),
      ),
    );

    expect(error.field).toBe('models.sora-2-pro.deployments[0].baseUrl');
    expect(error.message).toMatch(/another baseUrl in models\.sora-2\.deployments\[0\]/);
  });

  it('takes one id in several models with its own limits in each', () => {
    const config = parseProviderConfig(
      configWith([{ id: 'eastus', baseUrl: EASTUS, maxConcurrent: 2 }], {
        deployments: [{ id: 'eastus', baseUrl: EASTUS, maxConcurrent: 1 }],
      }),
    );

    expect(deploymentById(config, 'sora-2-pro', 'eastus')?.maxConcurrent).toBe(1);
    expect(deploymentById(config, 'sora-2', 'eastus')?.maxConcurrent).toBe(2);
  });

  it('refuses one id with two keys across models, quoting neither', () => {
    const error = configError(() =>
      parseProviderConfig(
        configWith([{ id: 'eastus', baseUrl: EASTUS, apiKey: 'sk-first-secret' }], {
          deployments: [{ id: 'eastus', baseUrl: EASTUS, apiKey: 'sk-second-secret' }],
        }),
      ),
    );

    expect(error.field).toBe('models.sora-2-pro.deployments[0].apiKey');
    expect(error.message).not.toMatch(/sk-first-secret|sk-second-secret/);
  });

  it(`refuses a deployment "${DEFAULT_DEPLOYMENT}" elsewhere than the provider's baseUrl`, () => {
    const error = configError(() =>
      parseProviderConfig(configWith([{ id: DEFAULT_DEPLOYMENT, baseUrl: EASTUS }])),
    );

    expect(error.field).toBe('models.sora-2.deployments[0].baseUrl');
    expect(error.message).toMatch(/calls naming no deployment/);
  });

  it('never echoes a deployment key in an error message', () => {
    const error = configError(() =>
      parseProviderConfig(
        configWith([{ id: 'eastus', baseUrl: 'nope', apiKey: 'sk-deployment-secret' }]),
      ),
    );

    expect(error.message).not.toContain('sk-deployment-secret');
  });
});

describe('deploymentsOf', () => {
  const config = parseProviderConfig(
    configWith([
      { id: 'eastus', baseUrl: EASTUS, maxConcurrent: 2 },
      { id: 'westus', baseUrl: WESTUS, weight: 2, apiKey: 'sk-local-westus' },
    ]),
  );

  it("gives a model without deployments one: default, at the provider's base URL", () => {
    expect(deploymentsOf(config, 'sora-2-pro')).toEqual([
      { id: DEFAULT_DEPLOYMENT, baseUrl: BASE_URL, weight: 1 },
    ]);
  });

  it('gives a model its deployments in catalogue order', () => {
    expect(deploymentsOf(config, 'sora-2').map((d) => [d.id, d.baseUrl, d.weight])).toEqual([
      ['eastus', EASTUS, 1],
      ['westus', WESTUS, 2],
    ]);
  });

  it('hands out copies: changing one does not change the catalogue', () => {
    const [eastus] = deploymentsOf(config, 'sora-2');
    if (eastus) eastus.maxConcurrent = 99;

    expect(deploymentById(config, 'sora-2', 'eastus')?.maxConcurrent).toBe(2);
  });

  it('refuses a model not in the catalogue, naming the model field', () => {
    expect(() => deploymentsOf(config, 'veo-3')).toThrow(VideoParamsError);
  });

  it('finds a deployment of a model by id, and none the model does not list', () => {
    expect(deploymentById(config, 'sora-2', 'westus')?.baseUrl).toBe(WESTUS);
    expect(deploymentById(config, 'sora-2', DEFAULT_DEPLOYMENT)).toBeUndefined();
    expect(deploymentById(config, 'sora-2-pro', 'westus')).toBeUndefined();
  });

  it('finds the endpoint of an id whichever model lists it, default included', () => {
    expect(deploymentEndpoint(config, 'westus')).toMatchObject({
      baseUrl: WESTUS,
      apiKey: 'sk-local-westus',
    });
    expect(deploymentEndpoint(config, DEFAULT_DEPLOYMENT)?.baseUrl).toBe(BASE_URL);
    expect(deploymentEndpoint(config, 'northeurope')).toBeUndefined();
  });
});
