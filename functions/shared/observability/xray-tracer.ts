/**
 * X-Ray tracing without aws-xray-sdk-core. Lambda's active tracing records the invocation
 * (Initialization, Invocation, Overhead); this adds what the Powertools Tracer added before: the
 * handler's `## <name>` subsegment (annotations ColdStart, Service, jobId; the error that ended
 * it) and one subsegment per AWS SDK call and per provider HTTP call beneath it, sent to the
 * X-Ray daemon over UDP as Lambda's own runtime does. Each of those calls carries the trace on
 * to the service it reaches, in its `X-Amzn-Trace-Id` header, with its own subsegment as parent
 * (EventBridge hands a trace on to its targets only when PutEvents carries one).
 *
 * Why not the Powertools Tracer: importing it loads aws-xray-sdk-core, which installs an async
 * hook at import (tracing on or off), and every promise of the process then pays for it (1e6
 * awaited promises: ~760 ms with it, ~80 ms without). The current subsegment is carried in an
 * AsyncLocalStorage, which on Node 24 rides on AsyncContextFrame and costs nothing per promise.
 * See docs/architecture.md (Tracing) for the figures.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { InvokeStore } from '@aws/lambda-invoke-store';

type Env = Readonly<Record<string, string | undefined>>;
type AnnotationValue = string | number | boolean;

/** The parts of Lambda's `_X_AMZN_TRACE_ID` a subsegment needs. */
export interface TraceHeader {
  root: string;
  parent: string;
  sampled: boolean;
}

/** The HTTP header that carries an X-Ray trace from one service to the next. */
export const TRACE_HEADER_NAME = 'X-Amzn-Trace-Id';

/**
 * The invocation's trace header as the Lambda runtime provides it: from the runtime's store of
 * the current invocation (`@aws/lambda-invoke-store`, which Node.js runtimes fill per invocation
 * and which is the only per-invocation source where one environment serves invocations
 * concurrently), else from `_X_AMZN_TRACE_ID`, which the runtime sets before each invocation.
 * The AWS SDK and Powertools read it the same way.
 */
export async function runtimeTraceHeader(env: Env = process.env): Promise<string | undefined> {
  const store = await InvokeStore.getInstanceAsync();
  return store.getXRayTraceId() || env._X_AMZN_TRACE_ID || undefined;
}

/** Parses `Root=1-...;Parent=...;Sampled=1` (undefined when a part is missing). */
export function parseTraceHeader(value: string | undefined): TraceHeader | undefined {
  if (!value) return undefined;
  const parts = new Map(
    value.split(';').map((part) => {
      const [key = '', ...rest] = part.trim().split('=');
      return [key, rest.join('=')] as const;
    }),
  );
  const root = parts.get('Root');
  const parent = parts.get('Parent');
  if (!root || !parent) return undefined;
  return { root, parent, sampled: parts.get('Sampled') === '1' };
}

/** One X-Ray subsegment, sent as its own document when it closes. */
export class Subsegment {
  readonly id = randomBytes(8).toString('hex');
  readonly startTime = Date.now() / 1000;
  readonly annotations: Record<string, AnnotationValue> = {};
  namespace: 'aws' | 'remote' | undefined;
  aws: Record<string, unknown> | undefined;
  http: { request?: Record<string, unknown>; response?: Record<string, unknown> } | undefined;
  error = false;
  fault = false;
  throttle = false;
  cause: { exceptions: { id: string; message: string; type: string }[] } | undefined;
  readonly name: string;
  readonly traceId: string;
  readonly parentId: string;

  constructor(name: string, traceId: string, parentId: string) {
    this.name = name;
    this.traceId = traceId;
    this.parentId = parentId;
  }

  /** Records the error on the subsegment (type and message; the stack stays in the logs). */
  addError(error: unknown): void {
    // A 4xx or a throttle is already flagged; anything else that ends a subsegment is a fault.
    if (!this.error && !this.throttle) this.fault = true;
    const { name, message } =
      error instanceof Error ? error : { name: 'Error', message: String(error) };
    this.cause = {
      exceptions: [{ id: randomBytes(8).toString('hex'), message, type: name }],
    };
  }

  /** The segment document (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html). */
  document(endTime: number): Record<string, unknown> {
    const document: Record<string, unknown> = {
      type: 'subsegment',
      name: this.name,
      id: this.id,
      trace_id: this.traceId,
      parent_id: this.parentId,
      start_time: this.startTime,
      end_time: endTime,
    };
    if (Object.keys(this.annotations).length > 0) document.annotations = this.annotations;
    if (this.namespace) document.namespace = this.namespace;
    if (this.aws) document.aws = this.aws;
    if (this.http) document.http = this.http;
    if (this.error) document.error = true;
    if (this.fault) document.fault = true;
    if (this.throttle) document.throttle = true;
    if (this.cause) document.cause = this.cause;
    return document;
  }
}

/** Sends one segment document to the daemon. */
export type SegmentSender = (document: Record<string, unknown>) => void;

const DAEMON_HEADER = '{"format":"json","version":1}\n';
const DEFAULT_DAEMON = { host: '127.0.0.1', port: 2000 };

/** `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `udp:host:port tcp:host:port`. */
export function daemonAddress(value: string | undefined): { host: string; port: number } {
  const udp = value
    ?.split(/\s+/)
    .map((part) => part.replace(/^udp:/, ''))
    .find((part) => !part.startsWith('tcp:'));
  const match = udp ? /^(.+):(\d+)$/.exec(udp) : null;
  return match?.[1] && match[2] ? { host: match[1], port: Number(match[2]) } : DEFAULT_DAEMON;
}

/** A UDP sender to the daemon; the socket is opened on the first document and never holds the process. */
export function udpSender(env: Env = process.env): SegmentSender {
  let socket: Socket | undefined;
  return (document) => {
    const { host, port } = daemonAddress(env.AWS_XRAY_DAEMON_ADDRESS);
    if (!socket) {
      socket = createSocket('udp4');
      socket.unref();
      // A lost trace must never fail an invocation.
      socket.on('error', () => {});
    }
    socket.send(`${DAEMON_HEADER}${JSON.stringify(document)}`, port, host);
  };
}

export interface XRayTracerOptions {
  serviceName: string;
  env?: Env;
  send?: SegmentSender;
  /** The current invocation's trace header (default: runtimeTraceHeader). */
  readTraceHeader?: () => Promise<string | undefined>;
}

/** Where an invocation's trace stands: its header, and the open subsegment if it is sampled. */
interface TraceContext {
  /** The header exactly as the runtime gave it, handed on as is by an unsampled invocation. */
  raw: string;
  subsegment: Subsegment | undefined;
}

/** What a traced call learned about its outcome (status, request id, ...). */
export type CallOutcome = (subsegment: Subsegment) => void;

/**
 * The pipeline's tracer. On only in Lambda (`AWS_EXECUTION_ENV`), unless
 * `POWERTOOLS_TRACE_ENABLED=false`, and only for invocations Lambda sampled.
 */
export class XRayTracer {
  readonly #serviceName: string;
  readonly #env: Env;
  readonly #send: SegmentSender;
  readonly #readTraceHeader: () => Promise<string | undefined>;
  readonly #current = new AsyncLocalStorage<TraceContext>();
  #coldStart = true;

  constructor(options: XRayTracerOptions) {
    this.#serviceName = options.serviceName;
    this.#env = options.env ?? process.env;
    this.#send = options.send ?? udpSender(this.#env);
    const env = this.#env;
    this.#readTraceHeader = options.readTraceHeader ?? (() => runtimeTraceHeader(env));
  }

  isTracingEnabled(): boolean {
    return (
      this.#env.AWS_EXECUTION_ENV !== undefined &&
      this.#env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false'
    );
  }

  /**
   * Runs an invocation as the subsegment `## <name>` of Lambda's function segment, annotated
   * ColdStart and Service, with the error that ended it. An unsampled invocation sends nothing
   * but still hands its trace header on to the calls it makes.
   */
  async traceInvocation<T>(name: string, work: () => Promise<T>): Promise<T> {
    const coldStart = this.#coldStart;
    this.#coldStart = false;
    const raw = this.isTracingEnabled() ? await this.#readTraceHeader() : undefined;
    const header = parseTraceHeader(raw);
    if (raw === undefined || header === undefined) return work();
    if (!header.sampled) return this.#current.run({ raw, subsegment: undefined }, work);
    const subsegment = new Subsegment(`## ${name}`, header.root, header.parent);
    subsegment.annotations.ColdStart = coldStart;
    subsegment.annotations.Service = this.#serviceName;
    return this.#run({ raw, subsegment }, work);
  }

  /** Runs a call made during an invocation as a child subsegment (untraced outside one). */
  async traceCall<T>(
    name: string,
    namespace: 'aws' | 'remote',
    work: (subsegment: Subsegment | undefined) => Promise<T>,
  ): Promise<T> {
    const context = this.#current.getStore();
    const parent = context?.subsegment;
    if (!context || !parent) return work(undefined);
    const subsegment = new Subsegment(name, parent.traceId, parent.id);
    subsegment.namespace = namespace;
    return this.#run({ ...context, subsegment }, () => work(subsegment));
  }

  /**
   * The `X-Amzn-Trace-Id` value for a request sent now: the trace with the current subsegment
   * (the call's own, inside traceCall) as parent; an unsampled invocation's header as the
   * runtime gave it; undefined outside a traced invocation.
   */
  outgoingTraceHeader(): string | undefined {
    const context = this.#current.getStore();
    if (!context) return undefined;
    const { subsegment } = context;
    if (!subsegment) return context.raw;
    return `Root=${subsegment.traceId};Parent=${subsegment.id};Sampled=1`;
  }

  /** Annotates the current subsegment (a no-op outside a traced invocation). */
  putAnnotation(key: string, value: AnnotationValue): void {
    const current = this.#current.getStore()?.subsegment;
    if (current) current.annotations[key] = value;
  }

  /**
   * Adds to the client a middleware tracing each call as a subsegment, and one putting the
   * trace header on its requests (a no-op when tracing is off). The SDK's own trace
   * middleware (recursion detection) sets the header only where none is set yet: it would hand
   * on the function's segment as parent, not the call's subsegment.
   */
  captureAWSv3Client<TClient extends { middlewareStack: object }>(client: TClient): TClient {
    if (!this.isTracingEnabled()) return client;
    // The SDK's own types are generic per client; the middleware reads only what is below.
    const stack = client.middlewareStack as AwsMiddlewareStack;
    stack.add(
      (next, context) => (args) =>
        this.traceCall(serviceOf(context.clientName), 'aws', async (subsegment) => {
          try {
            const result = await next(args);
            if (subsegment) describeAwsCall(subsegment, context, result.output?.$metadata, 200);
            return result;
          } catch (error) {
            if (subsegment) describeAwsError(subsegment, context, error);
            throw error;
          }
        }),
      { step: 'initialize', name: 'XRayTracing', override: true },
    );
    stack.add(
      (next) => (args) => {
        const header = this.outgoingTraceHeader();
        const { request } = args as { request?: { headers?: Record<string, string> } };
        if (header && request?.headers) request.headers[TRACE_HEADER_NAME] = header;
        return next(args);
      },
      // Before the SDK's recursion detection, which is `build` with a low priority.
      { step: 'build', priority: 'high', name: 'XRayTraceHeader', override: true },
    );
    return client;
  }

  /** Runs `work` in `context`, then sends its subsegment with the error that ended it. */
  async #run<T>(
    context: TraceContext & { subsegment: Subsegment },
    work: () => Promise<T>,
  ): Promise<T> {
    const { subsegment } = context;
    try {
      return await this.#current.run(context, work);
    } catch (error) {
      if (!subsegment.cause) subsegment.addError(error);
      throw error;
    } finally {
      try {
        this.#send(subsegment.document(Date.now() / 1000));
      } catch {
        // A lost trace must never fail an invocation.
      }
    }
  }
}

/** What the tracer uses of an AWS SDK v3 client's middleware stack. */
export interface AwsMiddlewareStack {
  add(
    middleware: (
      next: (args: unknown) => Promise<{ output?: { $metadata?: AwsMetadata } }>,
      context: AwsHandlerContext,
    ) => (args: unknown) => Promise<{ output?: { $metadata?: AwsMetadata } }>,
    options: {
      step: 'initialize' | 'build';
      priority?: 'high' | 'normal' | 'low';
      name: string;
      override: boolean;
    },
  ): void;
}

interface AwsHandlerContext {
  clientName?: string;
  commandName?: string;
}

interface AwsMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
}

// X-Ray's names for the services (as aws-xray-sdk-core names them): the client name without
// "Client" (DynamoDBClient -> DynamoDB, SFNClient -> SFN).
function serviceOf(clientName: string | undefined): string {
  return clientName?.replace(/Client$/, '') || 'AWS';
}

function describeAwsCall(
  subsegment: Subsegment,
  context: AwsHandlerContext,
  metadata: AwsMetadata | undefined,
  fallbackStatus: number,
): void {
  subsegment.aws = {
    operation: context.commandName?.replace(/Command$/, '') ?? 'unknown',
    request_id: metadata?.requestId,
    retries: Math.max(0, (metadata?.attempts ?? 1) - 1),
  };
  subsegment.http = { response: { status: metadata?.httpStatusCode ?? fallbackStatus } };
}

function describeAwsError(subsegment: Subsegment, context: AwsHandlerContext, error: unknown) {
  const metadata = (error as { $metadata?: AwsMetadata } | undefined)?.$metadata;
  const status = metadata?.httpStatusCode ?? 0;
  describeAwsCall(subsegment, context, metadata, status);
  markStatus(subsegment, status);
  subsegment.addError(error);
}

/** Sets X-Ray's error (4xx), throttle (429) and fault (5xx) flags from an HTTP status. */
export function markStatus(subsegment: Subsegment, status: number): void {
  if (status === 429) {
    subsegment.throttle = true;
    subsegment.error = true;
  } else if (status >= 400 && status < 500) {
    subsegment.error = true;
  } else if (status >= 500) {
    subsegment.fault = true;
  }
}

/**
 * `fetch` with each request traced as a remote subsegment named by the host (the provider
 * calls), carrying the trace on in its `X-Amzn-Trace-Id` header.
 */
export function tracedFetch(tracer: XRayTracer, base: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    return tracer.traceCall(url.hostname, 'remote', async (subsegment) => {
      // The path without the query: no cursor or other request detail in the trace.
      if (subsegment)
        subsegment.http = { request: { method, url: `${url.origin}${url.pathname}` } };
      const response = await base(
        input,
        withTraceHeader(input, init, tracer.outgoingTraceHeader()),
      );
      if (subsegment) {
        subsegment.http = {
          ...subsegment.http,
          response: { status: response.status },
        };
        markStatus(subsegment, response.status);
      }
      return response;
    });
  };
}

/** `init` with the trace header added to the request's own headers (unchanged without one). */
function withTraceHeader(
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  header: string | undefined,
): RequestInit | undefined {
  if (header === undefined) return init;
  const headers = new Headers(
    init?.headers ?? (input instanceof Request ? input.headers : undefined),
  );
  headers.set(TRACE_HEADER_NAME, header);
  return { ...init, headers };
}
