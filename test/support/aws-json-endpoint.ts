import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP endpoint standing in for an AWS JSON-protocol service (DynamoDB): it keeps
 * each request's headers and JSON body and answers with the next of the given answers.
 */

export interface Received {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export type Answer = (received: Received, response: ServerResponse) => void;

const open = new Set<() => Promise<void>>();

/** Answers each request with the next of `answers` (the last repeats). */
export async function endpoint(...answers: Answer[]) {
  const received: Received[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const entry = { headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) };
    received.push(entry);
    const answer = answers[Math.min(received.length, answers.length) - 1];
    answer?.(entry, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = async () => {
    if (!open.delete(close)) return;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  open.add(close);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close };
}

/** Closes every endpoint still open (for afterEach). */
export async function closeEndpoints(): Promise<void> {
  for (const close of [...open]) await close();
}

/** An answer with this status and JSON body. */
export const json =
  (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Answer =>
  (_received, response) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
    response.end(JSON.stringify(body));
  };
