import type { TestProject } from 'vitest/node';
import { type RunningDynamoDbLocal, startDynamoDbLocal } from '../infra/local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * The run's one DynamoDB Local (in memory), shared by the local stacks started with
     * `dynamoDbEndpoint` and by the integration files (test/support/dynamodb-local.ts). Each
     * makes tables of its own names.
     */
    dynamoDbEndpoint: string;
  }
}

interface Shared {
  running: Promise<RunningDynamoDbLocal>;
  users: number;
}

// Each project that uses it runs this setup, from a module instance of its own, in vitest's main
// process: the JVM is kept on globalThis so they share one, stopped after the last.
const KEY = Symbol.for('sora-pipeline.test.dynamoDbLocal');
const holder = globalThis as { [KEY]?: Shared };

/**
 * Global setup of the projects that start stacks or emulators (vitest.config.ts): one JVM for
 * the whole run instead of one per stack and per worker. A JVM's start and its JIT warming up
 * cost 3-4 CPU-seconds, which every stack and worker paid again.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  holder[KEY] ??= { running: startDynamoDbLocal(), users: 0 };
  const shared = holder[KEY];
  shared.users += 1;
  project.provide('dynamoDbEndpoint', (await shared.running).endpoint);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[KEY];
    await (await shared.running).stop();
  };
}
