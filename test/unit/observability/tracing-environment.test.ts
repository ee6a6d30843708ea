import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { annotateJobId } from '../../../functions/shared/observability/job-tracing.ts';
import { tracer } from '../../../functions/shared/observability/observability.ts';
import { recordMetric } from '../../../functions/shared/observability/pipeline-metrics.ts';
import { withObservability } from '../../../functions/shared/observability/with-observability.ts';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
  vi.restoreAllMocks();
});

/** The tracer's middleware on a client: a subsegment per call, the trace header on requests. */
const tracerMiddleware = (client: { middlewareStack: { identify(): string[] } }) =>
  client.middlewareStack
    .identify()
    .map((entry) => entry.split(' ')[0] ?? '')
    .filter((name) => name.startsWith('XRay'))
    .sort();

/** Every shared AWS client of the functions (functions/shared/aws/*-client.ts). */
async function clients() {
  const { dynamoDb } = await import('../../../functions/shared/aws/dynamodb-client.ts');
  const { eventBridge } = await import('../../../functions/shared/aws/eventbridge-client.ts');
  const { s3 } = await import('../../../functions/shared/aws/s3-client.ts');
  const { secretsManager } = await import(
    '../../../functions/shared/aws/secrets-manager-client.ts'
  );
  const { sfn } = await import('../../../functions/shared/aws/sfn-client.ts');
  return [dynamoDb(), eventBridge(), s3(), secretsManager(), sfn()];
}

describe('tracing outside Lambda', () => {
  it('is off: the tracer enables itself only where AWS_EXECUTION_ENV is set', () => {
    expect(process.env.AWS_EXECUTION_ENV).toBeUndefined();
    expect(tracer.isTracingEnabled()).toBe(false);
  });

  it('leaves the SDK clients uninstrumented', async () => {
    for (const client of await clients()) expect(tracerMiddleware(client)).toEqual([]);
  });

  it('opens no socket to an X-Ray daemon and writes no EMF line while a handler runs', async () => {
    const createSocket = vi.spyOn(dgram, 'createSocket');
    const write = vi.spyOn(process.stdout, 'write');
    const handler = withObservability('create-provider-job', async () => {
      annotateJobId('job_1');
      recordMetric('ProviderJobsCreated');
      return 'ok';
    });

    await expect(handler({})).resolves.toBe('ok');

    expect(createSocket).not.toHaveBeenCalled();
    expect(write.mock.calls.map(([chunk]) => String(chunk)).join('')).not.toContain('"_aws"');
  });
});

describe('tracing in Lambda', () => {
  it('captures every SDK client', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs24.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', undefined);

    const observability = await import('../../../functions/shared/observability/observability.ts');

    expect(observability.tracer.isTracingEnabled()).toBe(true);
    for (const client of await clients()) {
      expect(tracerMiddleware(client)).toEqual(['XRayTraceHeader', 'XRayTracing']);
    }
  });
});
