import { describe, expect, it } from 'vitest';
import { LocalStackError } from '../../../infra/local/local-errors.ts';
import { startLocalStack } from '../../../infra/local/local-stack.ts';

// Refused before anything starts: no port, no JVM, no data directory is touched.
describe('startLocalStack refuses options that exclude each other', () => {
  it('a shared dynamoDbEndpoint with a data directory, and leaves the process free to start one', async () => {
    const refused = startLocalStack({
      dataDir: '/nonexistent/sora-pipeline-data',
      dynamoDbEndpoint: 'http://127.0.0.1:1',
    });

    await expect(refused).rejects.toBeInstanceOf(LocalStackError);
    await expect(refused).rejects.toMatchObject({
      code: 'invalid-option',
      message: expect.stringMatching(/^dynamoDbEndpoint needs dataDir: null/),
    });
    // A second refusal, not "already started in this process": the first one started nothing.
    await expect(
      startLocalStack({ dataDir: '/nonexistent/sora-pipeline-data', clockStartMs: 0 }),
    ).rejects.toMatchObject({ code: 'invalid-option' });
  });
});
