import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_RATE } from '../../functions/shared/limits/client-rate-config.ts';
import { DEFAULT_EXECUTION_TIMEOUT } from '../../infra/constructs/generation-state-machine.ts';
import {
  CLIENT_RATE_CONTEXT_KEYS,
  LIMITS_CONTEXT_KEYS,
} from '../../infra/stacks/limits-settings.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import { definitionOf, functionLogicalId, synthesizeForTest } from './synthesized-pipeline.ts';

/** The limits' configuration from CDK context: env of the functions (not the machine's timeout). */

const LIMITED_FUNCTIONS = [
  'api',
  'admitJob',
  'createProviderJob',
  'pollProviderJob',
  'downloadVideo',
  'recordFailure',
  'scheduler',
] as const;

function environments(context: Record<string, unknown>) {
  const { pipelineTemplate } = synthesizeForTest(context);
  const functions = pipelineTemplate.findResources('AWS::Lambda::Function');
  const environmentOf = (name: keyof typeof HANDLER_MODULES): Record<string, unknown> => {
    const id = functionLogicalId(pipelineTemplate, HANDLER_MODULES[name]);
    return functions[id]?.Properties.Environment?.Variables ?? {};
  };
  return { environmentOf, asl: definitionOf(pipelineTemplate) };
}

describe('limits from CDK context', () => {
  it('gives every function that uses the limits the same values, defaults when the context is silent', () => {
    const { environmentOf } = environments({});

    for (const name of LIMITED_FUNCTIONS) {
      expect(environmentOf(name), name).toMatchObject({
        MAX_CONCURRENT_JOBS: '4',
        PROVIDER_REQUESTS_PER_MINUTE: '20',
        OVER_BUDGET_ACTION: 'queue',
      });
      expect(environmentOf(name), name).not.toHaveProperty('DAILY_BUDGET_USD');
    }
  });

  it('takes each value from its context key, numbers or strings alike', () => {
    const { environmentOf } = environments({
      'limits:maxConcurrentJobs': 2,
      'limits:requestsPerMinute': '0',
      'budget:dailyUsd': '1.2',
      'budget:overBudgetAction': 'reject',
    });

    for (const name of LIMITED_FUNCTIONS) {
      expect(environmentOf(name), name).toMatchObject({
        MAX_CONCURRENT_JOBS: '2',
        PROVIDER_REQUESTS_PER_MINUTE: '0',
        DAILY_BUDGET_USD: '1.2',
        OVER_BUDGET_ACTION: 'reject',
      });
    }
  });

  it('keeps the machine timeout at 2 h whatever the limits say (no slot wait to add)', () => {
    const { asl } = environments({ 'limits:maxConcurrentJobs': 1, 'limits:requestsPerMinute': 1 });

    expect(asl.TimeoutSeconds).toBe(DEFAULT_EXECUTION_TIMEOUT.toSeconds());
  });

  it('refuses a leftover limits:maxSlotWaitMinutes, saying it is no longer used', () => {
    expect(Object.values(LIMITS_CONTEXT_KEYS)).not.toContain('limits:maxSlotWaitMinutes');
    expect(() => synthesizeForTest({ 'limits:maxSlotWaitMinutes': 30 })).toThrow(
      /limits:maxSlotWaitMinutes is no longer used/,
    );
  });

  it('gives the limits to no function that does not use them', () => {
    const { environmentOf } = environments({});

    // The intake submits; the workflow's AdmitJob step admits what it submitted.
    for (const name of ['authorizer', 'intake', 'deliverWebhook'] as const) {
      expect(Object.keys(environmentOf(name)), name).not.toContain('MAX_CONCURRENT_JOBS');
    }
  });

  it.each([
    ['limits:maxConcurrentJobs', 0],
    ['limits:requestsPerMinute', 'many'],
    ['budget:dailyUsd', '-5'],
    ['budget:overBudgetAction', 'drop'],
  ])('fails the synth for %s = %j, naming the key', (key, value) => {
    expect(() => synthesizeForTest({ [key]: value })).toThrow(key);
  });
});

describe('client request rate from CDK context', () => {
  it('gives the api, and only the api, the default rate when the context is silent', () => {
    const { environmentOf } = environments({});

    expect(environmentOf('api')).toMatchObject({
      CLIENT_REQUESTS_PER_WINDOW: String(DEFAULT_CLIENT_RATE.requestsPerWindow),
      CLIENT_RATE_WINDOW_SECONDS: String(DEFAULT_CLIENT_RATE.windowSeconds),
    });
    for (const name of [
      'authorizer',
      'intake',
      ...LIMITED_FUNCTIONS.filter((n) => n !== 'api'),
    ] as const) {
      expect(Object.keys(environmentOf(name)), name).not.toContain('CLIENT_REQUESTS_PER_WINDOW');
    }
  });

  it('takes each value from its context key, 0 (no limit) included', () => {
    const { environmentOf } = environments({
      [CLIENT_RATE_CONTEXT_KEYS.requestsPerWindow]: 0,
      [CLIENT_RATE_CONTEXT_KEYS.windowSeconds]: '60',
    });

    expect(environmentOf('api')).toMatchObject({
      CLIENT_REQUESTS_PER_WINDOW: '0',
      CLIENT_RATE_WINDOW_SECONDS: '60',
    });
  });

  it.each([
    [CLIENT_RATE_CONTEXT_KEYS.requestsPerWindow, 'many'],
    [CLIENT_RATE_CONTEXT_KEYS.windowSeconds, 0],
  ])('fails the synth for %s = %j, naming the key', (key, value) => {
    expect(() => synthesizeForTest({ [key]: value })).toThrow(`context ${key} must be`);
  });
});
