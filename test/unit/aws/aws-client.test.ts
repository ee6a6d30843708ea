import { describe, expect, it } from 'vitest';
import {
  createdOnFirstUse,
  loadedOnFirstUse,
  retrySettings,
} from '../../../functions/shared/aws/aws-client.ts';

describe('retrySettings', () => {
  it("is the SDK's standard mode with the given tries", () => {
    expect(retrySettings(4, {})).toEqual({ maxAttempts: 4, retryMode: 'standard' });
  });

  it("leaves each to the SDK's own variable where a function's configuration sets it", () => {
    expect(retrySettings(4, { AWS_MAX_ATTEMPTS: '2' })).toEqual({
      maxAttempts: undefined,
      retryMode: 'standard',
    });
    expect(retrySettings(4, { AWS_RETRY_MODE: 'adaptive' })).toEqual({
      maxAttempts: 4,
      retryMode: undefined,
    });
  });
});

describe('createdOnFirstUse', () => {
  it('makes the value once, on the first call', () => {
    let made = 0;
    const value = createdOnFirstUse(() => ({ n: ++made }));

    expect(made).toBe(0);
    expect(value()).toBe(value());
    expect(made).toBe(1);
  });
});

describe('loadedOnFirstUse', () => {
  it('loads once, on the first call, even when calls overlap', async () => {
    let loads = 0;
    const load = loadedOnFirstUse(async () => ({ n: ++loads }));

    expect(loads).toBe(0);
    const [first, second] = await Promise.all([load(), load()]);

    expect(first).toBe(second);
    expect(await load()).toBe(first);
    expect(loads).toBe(1);
  });

  it('does not keep a failed load: the next call loads again', async () => {
    let attempts = 0;
    const load = loadedOnFirstUse(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('chunk not readable');
      return 'loaded';
    });

    await expect(load()).rejects.toThrow('chunk not readable');
    expect(await load()).toBe('loaded');
    expect(attempts).toBe(2);
  });
});
