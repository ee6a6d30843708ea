import { describe, expect, it } from 'vitest';
import { usd } from '../../../console/src/format.ts';

describe('usd', () => {
  it('shows cents from $0.10 up, so $0.40 and $7.50 read alike', () => {
    expect(usd(0.4)).toBe('$0.40');
    expect(usd(0.1)).toBe('$0.10');
    expect(usd(7.5)).toBe('$7.50');
    expect(usd(1234.5)).toBe('$1234.50');
  });

  it('shows tenths of a cent under $0.10, where cents would round the amount away', () => {
    expect(usd(0.012)).toBe('$0.012');
    expect(usd(0.05)).toBe('$0.050');
  });

  it('shows nothing spent as $0.00 and no amount as a dash', () => {
    expect(usd(0)).toBe('$0.00');
    expect(usd(null)).toBe('—');
    expect(usd(undefined)).toBe('—');
  });
});
