import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import {
  createAuthorizerHandler,
  parseApiTokens,
} from '../../../functions/api/token-authorizer.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { submitJob } from '../../../functions/shared/jobs/submit-job.ts';
import { annotatingJobIds } from '../../../functions/shared/observability/job-tracing.ts';
import {
  inMetricsScope,
  type RecordedMetric,
} from '../../../functions/shared/observability/pipeline-metrics.ts';
import { withObservability } from '../../../functions/shared/observability/with-observability.ts';
import { apiDeps } from '../../support/api-deps.ts';
import { authorizerEvent, type HttpRequest, httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';
import { capturedMetrics } from './emf-capture.ts';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
  vi.restoreAllMocks();
});

const NOW = new Date('2026-03-04T05:06:07.000Z');

/** The HTTP API as functions/api/handler.ts assembles it, on an in-memory store. */
function api() {
  const emf = capturedMetrics();
  const store = new InMemoryJobStore({ now: () => NOW });
  const annotated: string[] = [];
  const handler = withObservability(
    'api',
    createApiHandler(
      apiDeps(store, NOW, {
        usage: async () => {
          throw new Error('not used');
        },
        clientBudget: async () => {
          throw new Error('not used');
        },
        logger: annotatingJobIds(recordingLogger().logger, (jobId) => annotated.push(jobId)),
      }),
    ),
    emf.tools,
  );
  const send = (request: HttpRequest) => handler(httpApiEvent(request));
  return { emf, store, annotated, send };
}

const post = (headers: Record<string, string> = {}): HttpRequest => ({
  method: 'POST',
  path: '/videos',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ prompt: 'A lighthouse in a storm' }),
});

describe('HTTP API entry', () => {
  it('counts a submitted job with its source', async () => {
    const { emf, send } = api();

    const response = await send(post());

    expect(response.statusCode).toBe(202);
    expect(emf.points()).toMatchObject([
      { name: 'JobsSubmitted', unit: 'Count', value: 1, dimensions: { source: 'api' } },
    ]);
  });

  it('does not count an idempotent replay as a new job', async () => {
    const { emf, send } = api();
    await send(post({ 'Idempotency-Key': 'order-7' }));

    const replay = await send(post({ 'Idempotency-Key': 'order-7' }));

    expect(replay.statusCode).toBe(200);
    expect(emf.points().map((point) => point.name)).toEqual(['JobsSubmitted']);
  });

  it('publishes nothing for a refused request', async () => {
    const { emf, send } = api();

    const response = await send({
      method: 'POST',
      path: '/videos',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":""}',
    });

    expect(response.statusCode).toBe(400);
    expect(emf.lines()).toEqual([]);
  });

  it('annotates the trace with the job id of a created job and of a job read', async () => {
    const { store, annotated, send } = api();
    const existing = aJob({ jobId: newJobId(NOW) });
    store.seed(existing);

    await send(post());
    await send({ method: 'GET', path: `/videos/${existing.jobId}` });

    const created = store.all().find((job) => job.jobId !== existing.jobId);
    expect(annotated).toEqual([created?.jobId, existing.jobId]);
  });
});

describe('submitJob metrics', () => {
  it('counts the jobs of the drop folder under their own source, replays excluded', async () => {
    const deps = {
      store: new InMemoryJobStore({ now: () => NOW }),
      startExecution: async () => {},
      providerConfig: testProviderConfig(),
      clock: () => NOW,
      newJobId,
    };
    const recorded: RecordedMetric[] = [];

    await inMetricsScope(recorded, async () => {
      await submitJob({ prompt: 'a' }, { source: 'inbox', idempotencyKey: 'file-1:1' }, deps);
      await submitJob({ prompt: 'a' }, { source: 'inbox', idempotencyKey: 'file-1:1' }, deps);
      await submitJob({ prompt: 'b' }, { source: 'batch', idempotencyKey: 'file-2:1' }, deps);
    });

    expect(recorded).toEqual([
      { name: 'JobsSubmitted', value: 1, dimensions: { source: 'inbox' } },
      { name: 'JobsSubmitted', value: 1, dimensions: { source: 'batch' } },
    ]);
  });
});

describe('authorizer entry', () => {
  async function authorizer() {
    vi.stubEnv('API_TOKENS_SECRET_ID', 'api-tokens');
    // One module graph: the wrapper and the entry must share the metrics scope.
    const { observedAuthorizer } = await import('../../../functions/api/authorizer.ts');
    const observability = await import(
      '../../../functions/shared/observability/with-observability.ts'
    );
    const emf = capturedMetrics();
    const handler = observability.withObservability(
      'authorizer',
      observedAuthorizer(
        createAuthorizerHandler({
          readTokens: async () => parseApiTokens('{"tokens":["tok_valid_0123"]}'),
        }),
      ),
      emf.tools,
    );
    return { emf, handler };
  }

  it('counts a denied request', async () => {
    const { emf, handler } = await authorizer();

    const result = await handler(authorizerEvent({ authorization: 'Bearer tok_wrong' }));

    expect(result.isAuthorized).toBe(false);
    expect(emf.points()).toMatchObject([{ name: 'RequestsUnauthorized', value: 1 }]);
  });

  it('counts nothing for an authorized request', async () => {
    const { emf, handler } = await authorizer();

    const result = await handler(authorizerEvent({ authorization: 'Bearer tok_valid_0123' }));

    expect(result.isAuthorized).toBe(true);
    expect(emf.lines()).toEqual([]);
  });
});
