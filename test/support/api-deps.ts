import type { ApiDeps } from '../../functions/api/api-handler.ts';
import { newJobId } from '../../functions/shared/jobs/job-id.ts';
import { readClientBudget, readUsage } from '../../functions/shared/limits/usage-report.ts';
import { clientWebhookSecret } from '../../functions/shared/webhooks/webhook-signing.ts';
import type { InMemoryJobStore } from './in-memory-job-store.ts';
import { inMemoryCancelDeps, inMemoryUsageSources } from './in-memory-limits.ts';
import { testProviderConfig } from './provider-config-fixture.ts';
import { recordingLogger } from './recording-logger.ts';

/**
 * The API's collaborators on in-memory parts at a fixed clock, for unit tests of the handler:
 * `limits` answers `/usage`; a test overrides what its case is about.
 */
export function apiDeps(
  store: InMemoryJobStore,
  now: Date,
  overrides: Partial<ApiDeps> & { limits?: ReturnType<typeof inMemoryUsageSources> } = {},
): ApiDeps {
  const { limits = inMemoryUsageSources(), ...rest } = overrides;
  return {
    store,
    cancel: inMemoryCancelDeps(store).deps,
    webhookSecret: async (client) => clientWebhookSecret('test-signing-secret', client),
    startExecution: async () => {},
    providerConfig: testProviderConfig(),
    clock: () => now,
    newJobId,
    contentLink: async (key) => `https://videos.example.com/${key}`,
    usage: (day) => readUsage(limits, day),
    clientBudget: (client, day) => readClientBudget(limits.budget, client, day),
    logger: recordingLogger().logger,
    ...rest,
  };
}
