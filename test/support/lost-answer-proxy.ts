import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy in front of an AWS JSON-protocol endpoint (DynamoDB Local) that can lose answers: the
 * request reaches the service and is applied, then the connection is dropped before the answer
 * comes back, as a timeout or a reset would. The client sees a network failure for a write
 * that happened.
 */
export async function lostAnswerProxy(upstream: string) {
  const toLose = new Map<string, number>();
  const lost: string[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.split('.').pop() ?? '';
    const answer = await fetch(upstream, {
      method: 'POST',
      headers: {
        'content-type': String(request.headers['content-type']),
        'x-amz-target': target,
        authorization: String(request.headers.authorization),
        'x-amz-date': String(request.headers['x-amz-date']),
      },
      body: Buffer.concat(chunks),
    });
    const text = await answer.text();
    const left = toLose.get(operation) ?? 0;
    if (left > 0) {
      toLose.set(operation, left - 1);
      lost.push(operation);
      request.socket.destroy();
      return;
    }
    response.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/x-amz-json-1.0',
    });
    response.end(text);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Loses the answer of the next `count` calls of `operation` (e.g. UpdateItem). */
    loseNext(operation: string, count = 1) {
      toLose.set(operation, (toLose.get(operation) ?? 0) + count);
    },
    /** The operations whose answer was lost, in order. */
    lost,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
