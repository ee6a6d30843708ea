import { describe, expect, it } from 'vitest';
import {
  LimitsConfigError,
  limitsConfigFromEnv,
  limitsEnvironment,
} from '../../../functions/shared/limits/limits-config.ts';
import { isUtcDay } from '../../../functions/shared/limits/limits-table.ts';

describe('limitsConfigFromEnv', () => {
  it('takes the documented defaults when nothing is set: 4 slots, 20 RPM, no budget, queue', () => {
    expect(limitsConfigFromEnv({})).toEqual({
      maxConcurrentJobs: 4,
      requestsPerMinute: 20,
      dailyBudgetUsd: null,
      overBudgetAction: 'queue',
    });
  });

  it('reads every variable', () => {
    const config = limitsConfigFromEnv({
      MAX_CONCURRENT_JOBS: '2',
      PROVIDER_REQUESTS_PER_MINUTE: '0',
      DAILY_BUDGET_USD: '12.50',
      OVER_BUDGET_ACTION: 'reject',
    });

    expect(config).toEqual({
      maxConcurrentJobs: 2,
      requestsPerMinute: 0,
      dailyBudgetUsd: 12.5,
      overBudgetAction: 'reject',
    });
  });

  it('treats an empty DAILY_BUDGET_USD as no budget', () => {
    expect(limitsConfigFromEnv({ DAILY_BUDGET_USD: '' }).dailyBudgetUsd).toBeNull();
  });

  it.each([
    ['MAX_CONCURRENT_JOBS', '0'],
    ['MAX_CONCURRENT_JOBS', 'four'],
    ['PROVIDER_REQUESTS_PER_MINUTE', '-1'],
    ['DAILY_BUDGET_USD', '$10'],
    ['OVER_BUDGET_ACTION', 'drop'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => limitsConfigFromEnv({ [name]: value })).toThrow(LimitsConfigError);
    expect(() => limitsConfigFromEnv({ [name]: value })).toThrow(name);
  });
});

describe('limitsEnvironment', () => {
  it('is read back as the same configuration, and omits DAILY_BUDGET_USD without a budget', () => {
    const withBudget = {
      maxConcurrentJobs: 3,
      requestsPerMinute: 10,
      dailyBudgetUsd: 1.2,
      overBudgetAction: 'reject' as const,
    };
    const withoutBudget = { ...withBudget, dailyBudgetUsd: null };

    expect(limitsConfigFromEnv(limitsEnvironment(withBudget))).toEqual(withBudget);
    expect(limitsEnvironment(withoutBudget)).not.toHaveProperty('DAILY_BUDGET_USD');
    expect(limitsConfigFromEnv(limitsEnvironment(withoutBudget))).toEqual(withoutBudget);
  });
});

describe('isUtcDay', () => {
  it.each([
    ['2026-03-01', true],
    ['2026-02-30', false],
    ['2026-3-1', false],
    ['today', false],
  ])('%s -> %s', (value, expected) => {
    expect(isUtcDay(value)).toBe(expected);
  });
});
