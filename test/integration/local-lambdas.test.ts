import { describe, expect, it } from 'vitest';
import { InProcessLambdas, type LambdaHandler } from '../../infra/local/in-process-lambdas.ts';
import type { LocalFunctionSpec } from '../../infra/local/local-resources.ts';

function lambdas(handler: LambdaHandler | (() => never), timeoutSeconds = 5) {
  const spec: LocalFunctionSpec = {
    logicalId: 'ApiFunction',
    handlerModule: 'functions/api/handler.ts',
    timeoutSeconds,
    memorySize: 512,
    environment: {},
  };
  const invoker = new InProcessLambdas(new Map([[spec.logicalId, spec]]), {
    projectRoot: '/project',
    loadHandler: async () => handler as LambdaHandler,
  });
  return { invoker };
}

describe('in-process Lambda invocations', () => {
  it('passes event and result across a JSON boundary, as the Lambda service does', async () => {
    const seen: unknown[] = [];
    const { invoker } = lambdas(async (event) => {
      seen.push(event);
      return { at: new Date(0), gone: undefined };
    });

    const result = await invoker.invoke(
      'arn:aws:lambda:us-east-1:000000000000:function:ApiFunction',
      { when: new Date(0) },
    );

    expect(seen).toEqual([{ when: '1970-01-01T00:00:00.000Z' }]);
    expect(result).toEqual({ payload: { at: '1970-01-01T00:00:00.000Z' } });
  });

  it('reports a thrown error as errorType, errorMessage and trace', async () => {
    class ProviderRejectedError extends Error {
      override name = 'ProviderRejectedError';
    }
    const { invoker } = lambdas(async () => {
      throw new ProviderRejectedError('blocked');
    });

    const result = await invoker.invoke('ApiFunction', {});

    expect(result).toMatchObject({
      functionError: { errorType: 'ProviderRejectedError', errorMessage: 'blocked' },
    });
  });

  it('ends an invocation that outlives the function timeout with Sandbox.Timedout', async () => {
    const { invoker } = lambdas(() => new Promise(() => {}), 0.05);

    const result = await invoker.invoke('ApiFunction', {});

    expect(result).toMatchObject({ functionError: { errorType: 'Sandbox.Timedout' } });
  });

  it('fails the invocation when the module cannot initialise, and initialises afresh next time', async () => {
    let attempts = 0;
    const spec: LocalFunctionSpec = {
      logicalId: 'Broken',
      handlerModule: 'broken.ts',
      timeoutSeconds: 5,
      memorySize: 128,
      environment: {},
    };
    const invoker = new InProcessLambdas(new Map([[spec.logicalId, spec]]), {
      projectRoot: '/project',
      loadHandler: async () => {
        attempts += 1;
        const error = new Error('Missing or empty environment variable(s): JOBS_TABLE_NAME');
        error.name = 'ConfigurationError';
        throw error;
      },
    });

    const first = await invoker.invoke('Broken', {});
    await invoker.invoke('Broken', {});

    expect(first).toMatchObject({
      functionError: {
        errorType: 'ConfigurationError',
        errorMessage: expect.stringContaining('JOBS_TABLE_NAME'),
      },
    });
    expect(attempts).toBe(2);
  });
});
