import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsApiError } from './aws-api-error.ts';
import type { LocalEventBus } from './local-event-bus.ts';
import type { LocalSecrets } from './local-secrets.ts';
import type { ExecutionStatus, LocalStepFunctions } from './local-step-functions.ts';

export interface LocalAwsEndpointOptions {
  stepFunctions: LocalStepFunctions;
  secrets: LocalSecrets;
  /** EventBridge PutEvents; absent, the operation is unknown. */
  eventBus?: LocalEventBus;
  /** 0 or absent picks a free port. */
  port?: number;
}

export interface RunningLocalAwsEndpoint {
  /** http://127.0.0.1:PORT, for AWS_ENDPOINT_URL_SFN, _SECRETS_MANAGER and _EVENTBRIDGE. */
  url: string;
  port: number;
  close(): Promise<void>;
}

type Operation = (body: Record<string, unknown>) => unknown;

/**
 * One HTTP server answering the AWS JSON-protocol calls the handlers make to Step Functions
 * (`AWSStepFunctions.*`, JSON 1.0), Secrets Manager (`secretsmanager.GetSecretValue`,
 * JSON 1.1) and EventBridge (`AWSEvents.PutEvents`, JSON 1.1). Requests are not authenticated: it listens on 127.0.0.1 only.
 */
export async function startLocalAwsEndpoint(
  options: LocalAwsEndpointOptions,
): Promise<RunningLocalAwsEndpoint> {
  const { stepFunctions: sfn, secrets } = options;
  const operations: Record<string, Operation> = {
    'AWSStepFunctions.StartExecution': (body) => {
      const started = sfn.startExecution({
        stateMachineArn: optionalString(body, 'stateMachineArn'),
        name: optionalString(body, 'name'),
        input: optionalString(body, 'input'),
      });
      return { executionArn: started.executionArn, startDate: epochSeconds(started.startDate) };
    },
    'AWSStepFunctions.DescribeExecution': (body) => {
      const record = sfn.describeExecution({ executionArn: optionalString(body, 'executionArn') });
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: record.status,
        startDate: epochSeconds(record.startDate),
        stopDate: record.stopDate ? epochSeconds(record.stopDate) : undefined,
        input: record.input,
        inputDetails: { included: true },
        output: record.output,
        outputDetails: record.output === undefined ? undefined : { included: true },
        error: record.error,
        cause: record.cause,
      };
    },
    'AWSStepFunctions.ListExecutions': (body) => {
      const page = sfn.listExecutions({
        stateMachineArn: optionalString(body, 'stateMachineArn'),
        statusFilter: statusFilter(optionalString(body, 'statusFilter')),
        maxResults: typeof body.maxResults === 'number' ? body.maxResults : undefined,
        nextToken: optionalString(body, 'nextToken'),
      });
      return {
        executions: page.executions.map((record) => ({
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: epochSeconds(record.startDate),
          stopDate: record.stopDate ? epochSeconds(record.stopDate) : undefined,
        })),
        nextToken: page.nextToken,
      };
    },
    'AWSStepFunctions.StopExecution': (body) => {
      const stopped = sfn.stopExecution({
        executionArn: optionalString(body, 'executionArn'),
        error: optionalString(body, 'error'),
        cause: optionalString(body, 'cause'),
      });
      return { stopDate: epochSeconds(stopped.stopDate) };
    },
    'secretsmanager.GetSecretValue': (body) => {
      const secret = secrets.getSecretValue({
        SecretId: optionalString(body, 'SecretId'),
        VersionStage: optionalString(body, 'VersionStage'),
        VersionId: optionalString(body, 'VersionId'),
      });
      return { ...secret, CreatedDate: epochSeconds(secret.CreatedDate) };
    },
  };
  const { eventBus } = options;
  if (eventBus) operations['AWSEvents.PutEvents'] = (body) => eventBus.putEvents(body);

  const server = createServer((req, res) => {
    void answer(req, res, operations);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  operations: Record<string, Operation>,
): Promise<void> {
  const header = req.headers['x-amz-target'];
  const target = Array.isArray(header) ? header[0] : header;
  const contentType =
    target?.startsWith('secretsmanager.') || target?.startsWith('AWSEvents.')
      ? 'application/x-amz-json-1.1'
      : 'application/x-amz-json-1.0';
  const send = (status: number, payload: unknown, errorType?: string) => {
    const headers: Record<string, string> = {
      'content-type': contentType,
      'x-amzn-requestid': randomUUID(),
    };
    if (errorType) headers['x-amzn-errortype'] = errorType;
    res.writeHead(status, headers).end(JSON.stringify(payload));
  };
  try {
    const operation = typeof target === 'string' ? operations[target] : undefined;
    if (req.method !== 'POST' || !operation) {
      throw new AwsApiError(
        'UnknownOperationException',
        `Unsupported operation: ${String(target)}`,
      );
    }
    const text = Buffer.concat(await req.toArray()).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new AwsApiError('SerializationException', 'Request body is not valid JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AwsApiError('SerializationException', 'Request body is not a JSON object');
    }
    send(200, operation(body as Record<string, unknown>));
  } catch (error) {
    if (error instanceof AwsApiError) {
      send(error.statusCode, { __type: error.type, message: error.message }, error.type);
    } else {
      send(500, { __type: 'InternalFailure', message: 'Internal failure' }, 'InternalFailure');
    }
  }
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new AwsApiError('ValidationException', `${key} must be a string`);
  }
  return value;
}

const STATUSES: readonly ExecutionStatus[] = [
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
];

function statusFilter(value: string | undefined): ExecutionStatus | undefined {
  if (value === undefined) return undefined;
  const status = STATUSES.find((candidate) => candidate === value);
  if (!status) throw new AwsApiError('ValidationException', `Invalid statusFilter: ${value}`);
  return status;
}

/** The AWS JSON protocols send timestamps as epoch seconds. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}
