import { describe, expect, it, vi } from 'vitest';
import {
  ApiTokensSecretError,
  createAuthorizerHandler,
  parseApiTokens,
  tokenSha256,
} from '../../../functions/api/token-authorizer.ts';
import { authorizerEvent } from '../../support/http-api-event.ts';

const TOKENS = ['tok_first_0123456789abcdef', 'tok_second_0123456789abcdef'];
const ALICE_TOKEN = 'tok_alice_0123456789abcdef';
const OPS_TOKEN = 'tok_ops_0123456789abcdef';
const BOB_TOKEN = 'tok_bob_0123456789abcdef';
const SECRET = JSON.stringify({
  tokens: TOKENS,
  clients: {
    alice: { tokenSha256: tokenSha256(ALICE_TOKEN) },
    ops: { tokenSha256: [tokenSha256(OPS_TOKEN)], admin: true },
    bob: { tokenSha256: tokenSha256(BOB_TOKEN), weight: 2, maxConcurrent: 2, dailyBudgetUsd: 1.5 },
  },
});
const DENIED = { isAuthorized: false, context: { client: '', admin: false } };

function setup() {
  const readTokens = vi.fn(async () => parseApiTokens(SECRET));
  return { readTokens, authorize: createAuthorizerHandler({ readTokens }) };
}

describe('createAuthorizerHandler', () => {
  it.each(TOKENS)('allows a request bearing a configured token (%s)', async (token) => {
    const { authorize } = setup();

    await expect(authorize(authorizerEvent({ authorization: `Bearer ${token}` }))).resolves.toEqual(
      { isAuthorized: true, context: { client: 'default', admin: false, weight: 1 } },
    );
  });

  it.each([
    [ALICE_TOKEN, { client: 'alice', admin: false, weight: 1 }],
    [OPS_TOKEN, { client: 'ops', admin: true, weight: 1 }],
    [BOB_TOKEN, { client: 'bob', admin: false, weight: 2, maxConcurrent: 2, dailyBudgetUsd: 1.5 }],
  ])(
    'names the client of a hashed token and its share in the context (%s)',
    async (token, caller) => {
      const { authorize } = setup();

      await expect(
        authorize(authorizerEvent({ authorization: `Bearer ${token}` })),
      ).resolves.toEqual({ isAuthorized: true, context: caller });
    },
  );

  it('does not accept the hash of a token as the token', async () => {
    const { authorize } = setup();

    const result = await authorize(
      authorizerEvent({ authorization: `Bearer ${tokenSha256(ALICE_TOKEN)}` }),
    );

    expect(result.isAuthorized).toBe(false);
  });

  it('accepts the scheme in any case', async () => {
    const { authorize } = setup();

    const result = await authorize(authorizerEvent({ authorization: `bearer ${TOKENS[0]}` }));

    expect(result.isAuthorized).toBe(true);
  });

  it.each([
    ['a wrong token', `Bearer tok_wrong_0123456789abcdef`],
    ['a prefix of a token', `Bearer ${TOKENS[0]?.slice(0, -1)}`],
    ['a token with a suffix', `Bearer ${TOKENS[0]}x`],
    ['another scheme', `Basic ${TOKENS[0]}`],
    ['the token without a scheme', `${TOKENS[0]}`],
    ['two tokens', `Bearer ${TOKENS[0]} ${TOKENS[1]}`],
  ])('denies %s', async (_what, authorization) => {
    const { authorize } = setup();

    await expect(authorize(authorizerEvent({ authorization }))).resolves.toEqual(DENIED);
  });

  it('denies a request without Authorization without reading the secret', async () => {
    const { authorize, readTokens } = setup();

    await expect(authorize(authorizerEvent({}))).resolves.toEqual(DENIED);
    expect(readTokens).not.toHaveBeenCalled();
  });

  it('denies everyone when no token is configured', async () => {
    const authorize = createAuthorizerHandler({ readTokens: async () => [] });

    await expect(authorize(authorizerEvent({ authorization: 'Bearer anything' }))).resolves.toEqual(
      DENIED,
    );
  });

  it('fails (closed) when the tokens cannot be read', async () => {
    const authorize = createAuthorizerHandler({
      readTokens: async () => {
        throw new Error('Secret could not be read');
      },
    });

    await expect(
      authorize(authorizerEvent({ authorization: `Bearer ${TOKENS[0]}` })),
    ).rejects.toThrow();
  });
});

describe('parseApiTokens', () => {
  it('reads the tokens array as the default client and each named client with its hashes', () => {
    const credentials = parseApiTokens(SECRET);

    expect(credentials.map(({ client, admin }) => ({ client, admin }))).toEqual([
      { client: 'default', admin: false },
      { client: 'default', admin: false },
      { client: 'alice', admin: false },
      { client: 'ops', admin: true },
      { client: 'bob', admin: false },
    ]);
    expect(credentials[2]?.sha256.toString('hex')).toBe(tokenSha256(ALICE_TOKEN));
  });

  it('gives each named client its share settings, and the others the default share', () => {
    const shares = Object.fromEntries(
      parseApiTokens(SECRET).map(({ client, share }) => [client, share]),
    );

    expect(shares).toEqual({
      default: { weight: 1 },
      alice: { weight: 1 },
      ops: { weight: 1 },
      bob: { weight: 2, maxConcurrent: 2, dailyBudgetUsd: 1.5 },
    });
  });

  it.each([
    ['weight', 0, 'clients.bob.weight must be more than 0'],
    ['weight', '2', 'clients.bob.weight must be a number'],
    ['maxConcurrent', 0, 'clients.bob.maxConcurrent must be at least 1'],
    ['maxConcurrent', 1.5, 'clients.bob.maxConcurrent must be a whole number'],
    ['dailyBudgetUsd', -1, 'clients.bob.dailyBudgetUsd must not be negative'],
  ])(
    'names a bad share setting (%s: %j) and what is wrong, without quoting the token',
    (field, value, message) => {
      const secret = JSON.stringify({
        clients: { bob: { tokenSha256: tokenSha256(BOB_TOKEN), [field]: value } },
      });

      expect(() => parseApiTokens(secret)).toThrow(
        new ApiTokensSecretError(`API tokens secret: ${message}`),
      );
    },
  );

  it.each([
    ['not JSON', 'tok_first_0123456789abcdef'],
    ['without tokens', '{"token":"tok_first_0123456789abcdef"}'],
    ['with an empty token', '{"tokens":[""]}'],
    [
      'with a client token in the clear',
      '{"clients":{"alice":{"tokenSha256":"0123456789abcdef"}}}',
    ],
    [
      'with a client name holding a colon',
      `{"clients":{"a:b":{"tokenSha256":"${'0'.repeat(64)}"}}}`,
    ],
  ])('rejects a secret that is %s without quoting it', (_what, secret) => {
    const error = (() => {
      try {
        parseApiTokens(secret);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    expect(error).toBeInstanceOf(ApiTokensSecretError);
    expect(String((error as Error).message)).not.toContain('0123456789abcdef');
  });
});
