import {
  type ProviderConfig,
  parseProviderConfig,
} from '../../functions/shared/provider/provider-config.ts';

/** The default catalogue (sora-2 at $0.10/s, sora-2-pro at $0.30/s) behind a dummy endpoint. */
export function testProviderConfig(): ProviderConfig {
  return parseProviderConfig({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'test-key-not-used' });
}
