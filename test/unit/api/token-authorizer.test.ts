import { describe, expect, it, vi } from 'vitest';
import {
  ApiTokensSecretError,
  createAuthorizerHandler,
  parseApiTokens,
} from '../../../functions/api/token-authorizer.ts';
import { authorizerEvent } from '../../support/http-api-event.ts';

const TOKENS = ['tok_first_0123456789abcdef', 'tok_second_0123456789abcdef'];

function setup() {
  const readTokens = vi.fn(async () => TOKENS);
  return { readTokens, authorize: createAuthorizerHandler({ readTokens }) };
}

describe('createAuthorizerHandler', () => {
  it.each(TOKENS)('allows a request bearing a configured token (%s)', async (token) => {
    const { authorize } = setup();

    await expect(authorize(authorizerEvent({ authorization: `Bearer ${token}` }))).resolves.toEqual(
      {
        isAuthorized: true,
      },
    );
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

    await expect(authorize(authorizerEvent({ authorization }))).resolves.toEqual({
      isAuthorized: false,
    });
  });

  it('denies a request without Authorization without reading the secret', async () => {
    const { authorize, readTokens } = setup();

    await expect(authorize(authorizerEvent({}))).resolves.toEqual({ isAuthorized: false });
    expect(readTokens).not.toHaveBeenCalled();
  });

  it('denies everyone when no token is configured', async () => {
    const authorize = createAuthorizerHandler({ readTokens: async () => [] });

    await expect(authorize(authorizerEvent({ authorization: 'Bearer anything' }))).resolves.toEqual(
      {
        isAuthorized: false,
      },
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
  it('reads the tokens array', () => {
    expect(parseApiTokens(JSON.stringify({ tokens: TOKENS }))).toEqual(TOKENS);
  });

  it.each([
    ['not JSON', 'tok_first_0123456789abcdef'],
    ['without tokens', '{"token":"tok_first_0123456789abcdef"}'],
    ['with an empty token', '{"tokens":[""]}'],
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
