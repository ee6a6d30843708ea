import { describe, expect, it } from 'vitest';
import { localProviderKeys } from '../../../infra/local/local-deployment-keys.ts';
import { LocalStackError } from '../../../infra/local/local-errors.ts';
import { TINY_MODEL_SPEC } from '../../support/provider-config-fixture.ts';

const KEY = 'sk-local-stack';
const spec = TINY_MODEL_SPEC;
const second = { id: 'second', baseUrl: 'http://127.0.0.1:4011/v1' };
const third = { id: 'third', baseUrl: 'http://127.0.0.1:4012/v1' };

describe('localProviderKeys', () => {
  it("moves each deployment's apiKey into the secret's map, the others and default getting the stack's key", () => {
    const models = JSON.stringify({
      'sora-2': { ...spec, deployments: [{ ...second, apiKey: 'sk-second' }, third] },
      'sora-2-pro': spec,
    });

    const { models: stripped, secret } = localProviderKeys(models, KEY);

    expect(JSON.parse(secret)).toEqual({ default: KEY, second: 'sk-second', third: KEY });
    expect(stripped).not.toContain('sk-second');
    expect(JSON.parse(stripped ?? '')).toEqual({
      'sora-2': { ...spec, deployments: [second, third] },
      'sora-2-pro': spec,
    });
  });

  it("keeps the stack's one key, and the catalogue as written, when no deployment has its own", () => {
    const models = JSON.stringify({ 'sora-2': { ...spec, deployments: [second] } });

    expect(localProviderKeys(models, KEY)).toEqual({ models, secret: KEY });
    expect(localProviderKeys(undefined, KEY)).toEqual({ models: undefined, secret: KEY });
  });

  it('passes a catalogue that is not JSON on as is, for synth to name', () => {
    expect(localProviderKeys('{oops', KEY)).toEqual({ models: '{oops', secret: KEY });
  });

  it('leaves an empty apiKey in the catalogue, for synth to name', () => {
    const models = JSON.stringify({
      'sora-2': { ...spec, deployments: [{ ...second, apiKey: '' }] },
    });

    expect(localProviderKeys(models, KEY).models).toBe(models);
  });

  it('refuses one deployment id with two keys, naming the field and quoting neither', () => {
    const models = JSON.stringify({
      'sora-2': { ...spec, deployments: [{ ...second, apiKey: 'sk-first-secret' }] },
      'sora-2-pro': { ...spec, deployments: [{ ...second, apiKey: 'sk-other-secret' }] },
    });

    let error: unknown;
    try {
      localProviderKeys(models, KEY);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(LocalStackError);
    expect((error as LocalStackError).code).toBe('provider-settings');
    expect((error as Error).message).toMatch(/^models\.sora-2-pro\.deployments\[0\]\.apiKey/);
    expect((error as Error).message).not.toMatch(/sk-first-secret|sk-other-secret/);
  });
});
