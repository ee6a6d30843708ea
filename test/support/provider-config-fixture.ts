import {
  type ProviderConfig,
  ProviderConfigError,
  parseProviderConfig,
} from '../../functions/shared/provider/provider-config.ts';

/** The default catalogue (sora-2 at $0.10/s, sora-2-pro at $0.30/s) behind a dummy endpoint. */
export function testProviderConfig(): ProviderConfig {
  return parseProviderConfig({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'test-key-not-used' });
}

/** A one-size, one-duration model spec at $0.10/s, for catalogues built in tests. */
export const TINY_MODEL_SPEC = {
  sizes: ['1280x720'],
  seconds: ['4'],
  defaultSize: '1280x720',
  defaultSeconds: '4',
  pricePerSecondUsd: 0.1,
};

/** The ProviderConfigError `run` throws (any other error, or none, fails the test). */
export function configError(run: () => unknown): ProviderConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProviderConfigError) return error;
    throw error;
  }
  throw new Error('expected a ProviderConfigError');
}
