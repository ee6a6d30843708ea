import { describe, expect, it } from 'vitest';
import { parseApiTokens } from '../../../functions/api/token-authorizer.ts';
import { localApiTokens } from '../../../infra/local/local-api-tokens.ts';
import {
  checkCapsWithin,
  checkClientSettings,
  parseClientSettings,
} from '../../../infra/local/local-client-settings.ts';
import { LocalStackError } from '../../../infra/local/local-errors.ts';

const CLIENTS = ['alice', 'bob'];

/** The message of the LocalStackError `invalid-option` that `run` throws. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LocalStackError);
    expect((error as LocalStackError).code).toBe('invalid-option');
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('--client-settings', () => {
  it('reads each named client’s settings', () => {
    const settings = parseClientSettings(
      '{"bob":{"weight":1,"maxConcurrent":2,"dailyBudgetUsd":2},"alice":{"weight":3}}',
      CLIENTS,
    );

    expect(settings).toEqual({
      bob: { weight: 1, maxConcurrent: 2, dailyBudgetUsd: 2 },
      alice: { weight: 3 },
    });
  });

  it('gives no client settings of its own when absent or empty', () => {
    expect(parseClientSettings(undefined, CLIENTS)).toEqual({});
    expect(parseClientSettings(' ', CLIENTS)).toEqual({});
  });

  it.each([
    ['{"bob":{"maxConcurrent":0}}', '--client-settings: bob.maxConcurrent must be at least 1'],
    [
      '{"bob":{"maxConcurrent":1.5}}',
      '--client-settings: bob.maxConcurrent must be a whole number',
    ],
    ['{"bob":{"weight":0}}', '--client-settings: bob.weight must be more than 0'],
    ['{"bob":{"weight":"2"}}', '--client-settings: bob.weight must be a number'],
    ['{"bob":{"dailyBudgetUsd":-1}}', '--client-settings: bob.dailyBudgetUsd must not be negative'],
    [
      '{"bob":{"maxConcurent":2}}',
      '--client-settings: bob has no setting "maxConcurent" (settings: weight, maxConcurrent, dailyBudgetUsd)',
    ],
    [
      '{"bob":2}',
      '--client-settings: bob must be an object of weight, maxConcurrent, dailyBudgetUsd',
    ],
  ])('refuses %s naming the client and the field', (value, message) => {
    expect(refusal(() => parseClientSettings(value, CLIENTS))).toBe(message);
  });

  it('refuses a client that is not one of --clients, listing those that are', () => {
    expect(refusal(() => parseClientSettings('{"carol":{"weight":2}}', CLIENTS))).toBe(
      '--client-settings: "carol" is not one of --clients (alice, bob)',
    );
    expect(refusal(() => parseClientSettings('{"carol":{"weight":2}}', []))).toBe(
      '--client-settings: "carol" is not one of --clients (none named)',
    );
  });

  it.each([
    ['{bob:{}}', 'is not JSON'],
    ['[{"bob":{}}]', 'must be an object of client names'],
  ])('refuses %s as a whole', (value, words) => {
    expect(refusal(() => parseClientSettings(value, CLIENTS))).toContain(words);
  });

  it('checks settings handed to the stack directly (e2e tests) the same way', () => {
    expect(refusal(() => checkClientSettings({ bob: { maxConcurrent: -2 } }, CLIENTS))).toBe(
      '--client-settings: bob.maxConcurrent must be at least 1',
    );
  });

  it("refuses a cap above the stack's concurrency limit, naming both numbers; up to it is fine", () => {
    expect(refusal(() => checkCapsWithin({ bob: { maxConcurrent: 5 } }, 4))).toBe(
      "--client-settings: bob.maxConcurrent is 5, above the stack's 4 jobs at once (limits:maxConcurrentJobs)",
    );
    expect(() =>
      checkCapsWithin({ bob: { maxConcurrent: 4 }, alice: { weight: 9 } }, 4),
    ).not.toThrow();
  });
});

describe('the local tokens secret with client settings', () => {
  it('carries each client’s settings beside its hash, as the authorizer reads them', async () => {
    const tokens = await localApiTokens(null, CLIENTS, {
      bob: { weight: 1, maxConcurrent: 2, dailyBudgetUsd: 2 },
    });

    const shares = Object.fromEntries(
      parseApiTokens(tokens.secret).map(({ client, share }) => [client, share]),
    );

    expect(shares).toEqual({
      default: { weight: 1 },
      admin: { weight: 1 },
      alice: { weight: 1 },
      bob: { weight: 1, maxConcurrent: 2, dailyBudgetUsd: 2 },
    });
  });
});
