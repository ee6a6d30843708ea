import { describe, expect, it, vi } from 'vitest';
import { callerOf } from '../../../functions/api/caller.ts';
import {
  createAuthorizerHandler,
  parseApiTokens,
  tokenSha256,
} from '../../../functions/api/token-authorizer.ts';
import { authorizerEvent, httpApiEvent } from '../../support/http-api-event.ts';

const BOB_TOKEN = 'tok_bob_0123456789abcdef';
const DEFAULT_TOKEN = 'tok_default_0123456789abcdef';
const SECRET = JSON.stringify({
  tokens: [DEFAULT_TOKEN],
  clients: {
    bob: { tokenSha256: tokenSha256(BOB_TOKEN), weight: 3, maxConcurrent: 2, dailyBudgetUsd: 2 },
  },
});

/** The request as the API function receives it, with this authorizer context. */
const requestWith = (context: Record<string, unknown> | undefined) =>
  httpApiEvent({ method: 'GET', path: '/videos', ...(context ? { authorizer: context } : {}) });

/** What the authorizer decides for a token, as the API function reads it back. */
async function callerThrough(token: string) {
  const authorize = createAuthorizerHandler({ readTokens: async () => parseApiTokens(SECRET) });
  const result = await authorize(authorizerEvent({ authorization: `Bearer ${token}` }));
  return callerOf(requestWith({ ...result.context }));
}

describe('callerOf', () => {
  it('reads back the client, admin flag and share the authorizer put in its context', async () => {
    await expect(callerThrough(BOB_TOKEN)).resolves.toEqual({
      client: 'bob',
      admin: false,
      share: { weight: 3, maxConcurrent: 2, dailyBudgetUsd: 2 },
    });
    await expect(callerThrough(DEFAULT_TOKEN)).resolves.toEqual({
      client: 'default',
      admin: false,
      share: { weight: 1 },
    });
  });

  it('reads numbers handed back as strings, as booleans may be', () => {
    const caller = callerOf(
      requestWith({ client: 'bob', admin: 'true', weight: '3', maxConcurrent: '2' }),
    );

    expect(caller).toEqual({ client: 'bob', admin: true, share: { weight: 3, maxConcurrent: 2 } });
  });

  it('gives the default share to a context without one (an authorizer from before shares)', () => {
    expect(callerOf(requestWith({ client: 'bob', admin: false })).share).toEqual({ weight: 1 });
    expect(callerOf(requestWith(undefined))).toEqual({
      client: 'default',
      admin: false,
      share: { weight: 1 },
    });
  });

  it.each([
    ['maxConcurrent', 0],
    ['maxConcurrent', 'two'],
    ['weight', -1],
    ['dailyBudgetUsd', true],
  ])(
    'gives the default share to a context whose %s is %j, and says which field',
    (field, value) => {
      const onMalformedShare = vi.fn();

      const caller = callerOf(
        requestWith({ client: 'bob', admin: false, weight: 2, [field]: value }),
        onMalformedShare,
      );

      expect(caller).toEqual({ client: 'bob', admin: false, share: { weight: 1 } });
      expect(onMalformedShare).toHaveBeenCalledExactlyOnceWith(field);
    },
  );
});
