import { describe, expect, it } from 'vitest';
import {
  ClientRateConfigError,
  clientRateConfigFromEnv,
  clientRateEnvironment,
  DEFAULT_CLIENT_RATE,
} from '../../../functions/shared/limits/client-rate-config.ts';
import { DEFAULT_API_THROTTLE } from '../../../infra/constructs/video-api.ts';

describe('clientRateConfigFromEnv', () => {
  it('takes the defaults when the variables are absent or empty', () => {
    expect(clientRateConfigFromEnv({})).toEqual(DEFAULT_CLIENT_RATE);
    expect(
      clientRateConfigFromEnv({ CLIENT_REQUESTS_PER_WINDOW: '', CLIENT_RATE_WINDOW_SECONDS: ' ' }),
    ).toEqual(DEFAULT_CLIENT_RATE);
  });

  it('reads both variables, 0 requests (no limit) included', () => {
    expect(
      clientRateConfigFromEnv({
        CLIENT_REQUESTS_PER_WINDOW: '0',
        CLIENT_RATE_WINDOW_SECONDS: '60',
      }),
    ).toEqual({ requestsPerWindow: 0, windowSeconds: 60 });
  });

  it.each([
    ['CLIENT_REQUESTS_PER_WINDOW', 'many'],
    ['CLIENT_REQUESTS_PER_WINDOW', '-1'],
    ['CLIENT_REQUESTS_PER_WINDOW', '1.5'],
    ['CLIENT_REQUESTS_PER_WINDOW', '100001'],
    ['CLIENT_RATE_WINDOW_SECONDS', '0'],
    ['CLIENT_RATE_WINDOW_SECONDS', '3601'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => clientRateConfigFromEnv({ [name]: value })).toThrow(ClientRateConfigError);
    expect(() => clientRateConfigFromEnv({ [name]: value })).toThrow(new RegExp(`^${name} `));
  });

  it('reads back the environment it writes', () => {
    const config = { requestsPerWindow: 7, windowSeconds: 30 };

    expect(clientRateConfigFromEnv(clientRateEnvironment(config))).toEqual(config);
  });
});

describe('DEFAULT_CLIENT_RATE', () => {
  it("leaves one client less than the stage's whole rate and burst", () => {
    const { requestsPerWindow, windowSeconds } = DEFAULT_CLIENT_RATE;

    expect(requestsPerWindow / windowSeconds).toBeLessThan(DEFAULT_API_THROTTLE.rateLimit);
    // A fixed window lets through up to twice its limit across a boundary.
    expect(2 * requestsPerWindow).toBeLessThanOrEqual(DEFAULT_API_THROTTLE.burstLimit);
  });
});
