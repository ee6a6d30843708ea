import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { functionEnvironment } from '../../functions/shared/config/function-environment.ts';
import {
  defaultModelCatalogue,
  providerSettingsFromEnv,
} from '../../functions/shared/provider/provider-config.ts';
import { createProviderSource } from '../../functions/shared/provider-factory/provider-from-env.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';
import { simulatorCatalogue } from '../../infra/local/simulator-catalogue.ts';
import { type StackClient, stackClient } from './local-stack-client.ts';

// A second simulator with its own key: a second deployment of sora-2 beside the stack's own.
const SECOND_KEY = 'sk-second-deployment';
const SPEED = 50;

let second: RunningSimulator;
let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  // Rendering at the stack's pace, so its jobs finish in seconds.
  second = await startSimulator({ apiKey: SECOND_KEY, speed: SPEED, contentTtlSeconds: 86_400 });
  const catalogue = JSON.parse(simulatorCatalogue());
  catalogue['sora-2'] = {
    ...defaultModelCatalogue()['sora-2'],
    deployments: [{ id: 'second', baseUrl: second.baseURL, apiKey: SECOND_KEY }],
  };
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    context: { 'provider:models': JSON.stringify(catalogue) },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  await second?.close();
});

describe('a local catalogue whose deployment has its own apiKey', () => {
  it("keeps the key out of the functions' environment, the deployment in", () => {
    // What the stack handed its functions (it writes nothing into process.env).
    const { PROVIDER_MODELS } = functionEnvironment();
    expect(PROVIDER_MODELS).toContain(second.baseURL);
    expect(PROVIDER_MODELS).not.toContain(SECOND_KEY);
  });

  it("reaches the deployment with its key through the functions' provider source", async () => {
    const source = createProviderSource({
      settings: providerSettingsFromEnv(functionEnvironment()),
      secretId: functionEnvironment().PROVIDER_SECRET_ID ?? '',
    });
    const request = {
      prompt: 'a lighthouse at dusk',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      idempotencyKey: 'deployment-keys-e2e',
    };

    const created = await (await source('second')).create(request);

    expect(second.stats.creates).toBe(1);
    expect(await (await source('second')).retrieve(created.id)).toMatchObject({ id: created.id });
  });

  it("runs sora-2's jobs on its one deployment with its own key, and a model without deployments on the default one", async () => {
    const before = stack.simulator?.stats.creates ?? 0;
    const secondBefore = second.stats.creates;

    const onSecond = await client.submit({ prompt: 'a heron at the lake', model: 'sora-2' });
    const onDefault = await client.submit({ prompt: 'a heron at dusk', model: 'sora-2-pro' });
    const records = await client.jobsEnded([onSecond, onDefault]);

    expect(records.map((record) => `${record?.status}/${record?.deployment}`)).toEqual([
      'COMPLETED/second',
      'COMPLETED/default',
    ]);
    expect(second.stats.creates).toBe(secondBefore + 1);
    expect(stack.simulator?.stats.creates).toBe(before + 1);
  });
});
