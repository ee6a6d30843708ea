// A webhook receiver that verifies sora-pipeline's signed deliveries (Standard Webhooks) with the
// `standardwebhooks` package: `npm install standardwebhooks`, then
//   WEBHOOK_SECRET=whsec_... PORT=8080 node docs/examples/webhook-receiver.ts
// Get the secret with `curl -s $API/webhooks/secret -H "$AUTH"`. Prints one line per verified
// event; answers 400 to a delivery that does not verify, 204 to one that does. Deliveries are at
// least once: the same `webhook-id` may arrive again, so remember the ids you handled.
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (!secret?.startsWith('whsec_')) {
  process.stderr.write('WEBHOOK_SECRET must be the key of GET /webhooks/secret (whsec_...)\n');
  process.exit(2);
}
const verifier = new Webhook(secret);
const handled = new Set<string>();

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event: { type: string; data: { id: string; status: string } };
    try {
      // Checks the HMAC and that webhook-timestamp is within 5 minutes of now.
      event = verifier.verify(body, {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }) as typeof event;
    } catch {
      response.writeHead(400).end();
      return;
    }
    const id = String(request.headers['webhook-id']);
    if (!handled.has(id)) {
      handled.add(id);
      process.stdout.write(`verified ${event.type} ${event.data.id} ${event.data.status}\n`);
    }
    response.writeHead(204).end();
  });
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : '?';
  process.stdout.write(`listening on http://127.0.0.1:${port}/\n`);
});
