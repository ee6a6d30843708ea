import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { simulatedContent } from '../../infra/local/simulator/content.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../infra/local/simulator/simulator.ts';

const apiKey = 'sk-test';
const start = Date.parse('2026-03-01T12:00:00Z');
// The default request: sora-2, 720x1280, 4 s.
const defaultVideo = () => simulatedContent('video', '720x1280', '4');

const running: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

/** A simulator on a hand-moved clock, and an SDK client for it. */
async function setup(options: SimulatorOptions = {}) {
  const clock = { ms: start };
  const sim = await startSimulator({ seed: 7, now: () => clock.ms, ...options });
  running.push(sim);
  const client = new OpenAI({ apiKey, baseURL: sim.baseURL, maxRetries: 0 });
  const advance = (seconds: number) => {
    clock.ms += seconds * 1000;
  };
  return { sim, client, clock, advance };
}

/** Reads a body chunk by chunk; reports how many bytes arrived and how it ended. */
async function drain(response: Response, onChunk: (chunk: Uint8Array) => void = () => {}) {
  const reader = response.body?.getReader();
  if (!reader) throw new Error('response has no body');
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes, error: null };
      bytes += value.length;
      onChunk(value);
    }
  } catch (error) {
    return { bytes, error };
  }
}

/** A video, with the clock set to the instant it completed. */
async function completedVideo(options: SimulatorOptions = {}) {
  const context = await setup(options);
  const video = await context.client.videos.create({ prompt: 'A red kite' });
  context.clock.ms = context.sim.stats.videos[0]?.endsAtMs ?? Number.NaN;
  return { ...context, video };
}

describe('simulator knobs: prompt markers', () => {
  it('refuses a prompt containing the moderation marker with 400 moderation_blocked', async () => {
    const { client, sim } = await setup();

    const create = client.videos.create({ prompt: 'A fox [moderation-block]' });

    await expect(create).rejects.toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'moderation_blocked',
      param: 'prompt',
    });
    expect(sim.stats.creates).toBe(0);
  });

  it('uses a moderation marker changed at runtime', async () => {
    const { client, sim } = await setup();
    sim.configure({ moderationMarker: 'FORBIDDEN' });

    const create = client.videos.create({ prompt: 'A FORBIDDEN fox' });

    await expect(create).rejects.toMatchObject({ code: 'moderation_blocked' });
  });

  it('renders a prompt with the failure marker for a while, then fails it', async () => {
    const { client, advance } = await setup();
    const { id } = await client.videos.create({ prompt: 'A fox [render-fail]' });

    advance(10);
    const rendering = await client.videos.retrieve(id);
    advance(600);
    const failed = await client.videos.retrieve(id);
    const content = client.videos.downloadContent(id);

    expect(rendering.status).toBe('in_progress');
    expect(failed).toMatchObject({
      status: 'failed',
      completed_at: null,
      expires_at: null,
      error: { code: 'video_generation_failed', message: expect.any(String) },
    });
    expect(failed.progress).toBeLessThan(100);
    await expect(content).rejects.toMatchObject({ status: 400, code: 'video_failed' });
  });
});

describe('simulator knobs: rate limits', () => {
  it('answers 429 rate_limit_exceeded with Retry-After beyond requestsPerMinute', async () => {
    const { client, advance } = await setup({ requestsPerMinute: 2 });
    await client.videos.create({ prompt: 'one' });
    advance(20);
    await client.videos.create({ prompt: 'two' });

    const third = await client.videos.create({ prompt: 'three' }).catch((error: unknown) => error);

    expect(third).toBeInstanceOf(OpenAI.RateLimitError);
    expect(third).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    // The first request leaves the one-minute window 40 s from now.
    expect((third as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe(
      '40',
    );
  });

  it('admits requests again once the window has moved on', async () => {
    const { client, advance, sim } = await setup({ requestsPerMinute: 1 });
    await client.videos.create({ prompt: 'one' });
    await expect(client.videos.create({ prompt: 'two' })).rejects.toMatchObject({ status: 429 });

    advance(61);
    const later = await client.videos.create({ prompt: 'three' });

    expect(later.status).toBe('queued');
    expect(sim.stats.rateLimited).toBe(1);
  });

  it('limits only creations by default and every request with rateLimitScope all', async () => {
    const { client, sim } = await setup({ requestsPerMinute: 2 });
    const { id } = await client.videos.create({ prompt: 'one' });
    for (let i = 0; i < 3; i++) await client.videos.retrieve(id);

    sim.configure({ rateLimitScope: 'all' });
    await client.videos.retrieve(id);
    const retrieve = client.videos.retrieve(id);

    await expect(retrieve).rejects.toMatchObject({ status: 429 });
  });

  it('answers 429 with Retry-After to creates beyond maxConcurrentJobs', async () => {
    const { client, sim, clock } = await setup({ maxConcurrentJobs: 2 });
    await client.videos.create({ prompt: 'one' });
    await client.videos.create({ prompt: 'two' });

    const third = await client.videos.create({ prompt: 'three' }).catch((error: unknown) => error);

    expect(third).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    const firstEnd = Math.min(...sim.stats.videos.map((video) => video.endsAtMs));
    const retryAfter = (third as InstanceType<typeof OpenAI.RateLimitError>).headers.get(
      'retry-after',
    );
    expect(Number(retryAfter)).toBe(Math.ceil((firstEnd - clock.ms) / 1000));
  });

  it('accepts a create again once a running job has finished', async () => {
    const { client, sim, clock } = await setup({ maxConcurrentJobs: 1 });
    await client.videos.create({ prompt: 'one' });
    await expect(client.videos.create({ prompt: 'two' })).rejects.toMatchObject({ status: 429 });

    clock.ms = sim.stats.videos[0]?.endsAtMs ?? Number.NaN;
    const next = await client.videos.create({ prompt: 'three' });

    expect(next.status).toBe('queued');
    expect(sim.stats.maxConcurrentJobs).toBe(1);
  });
});

describe('simulator knobs: server errors', () => {
  it('answers the next failNextRequests requests with 503 and Retry-After, then recovers', async () => {
    const { client, sim } = await setup();
    const { id } = await client.videos.create({ prompt: 'one' });
    sim.configure({ failNextRequests: 2 });

    const first = await client.videos.retrieve(id).catch((error: unknown) => error);
    const second = await client.videos.retrieve(id).catch((error: unknown) => error);
    const third = await client.videos.retrieve(id);

    expect(first).toBeInstanceOf(OpenAI.InternalServerError);
    expect(first).toMatchObject({ status: 503, type: 'server_error' });
    expect((first as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    expect(second).toMatchObject({ status: 503 });
    expect(third.id).toBe(id);
    expect(sim.stats.serverErrors).toBe(2);
  });

  it('answers every request with 503 and Retry-After while unavailable, starting nothing, until switched off', async () => {
    const { client, sim } = await setup();
    const { id } = await client.videos.create({ prompt: 'before the outage' });
    sim.configure({ unavailable: true, failNextRequests: 1 });

    const refused = await Promise.allSettled([
      client.videos.create({ prompt: 'during the outage' }),
      client.videos.retrieve(id),
      client.videos.list(),
      client.videos.delete(id),
    ]);
    sim.configure({ unavailable: false });
    // The outage did not eat the failNextRequests budget: it is still due.
    const budget = await client.videos.retrieve(id).catch((error: unknown) => error);
    const served = await client.videos.retrieve(id);

    for (const result of refused) {
      expect(result).toMatchObject({ status: 'rejected', reason: { status: 503 } });
    }
    const [create] = refused;
    expect(
      (create as PromiseRejectedResult).reason.headers?.get('retry-after'),
      'a 503 says when to come back',
    ).toBe('1');
    expect(budget).toMatchObject({ status: 503 });
    expect(served.id).toBe(id);
    expect(sim.stats.creates).toBe(1);
    expect(sim.stats.responsesByStatus).toMatchObject({ 503: 5 });
    expect(sim.stats.responsesByStatus[500]).toBeUndefined();
  });

  it('answers every request with a 5xx at serverErrorRate 1', async () => {
    const { client, sim } = await setup({ serverErrorRate: 1 });

    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => client.videos.list()),
    );

    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(sim.stats.serverErrors).toBe(10);
    expect(Object.keys(sim.stats.responsesByStatus).sort()).toEqual(['500', '503']);
  });

  it('injects the same pattern of 5xx for the same seed', async () => {
    const pattern = async () => {
      const { client } = await setup({ serverErrorRate: 0.3, seed: 99 });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const result = await client.videos.list().then(
          () => 200,
          (error: { status: number }) => error.status,
        );
        statuses.push(result);
      }
      return statuses;
    };

    const first = await pattern();
    const second = await pattern();

    expect(second).toEqual(first);
    const errors = first.filter((status) => status >= 500).length;
    expect(errors).toBeGreaterThan(2);
    expect(errors).toBeLessThan(25);
  });

  it('starts the job but drops the create response for dropNextCreateResponses', async () => {
    const { client, sim } = await setup({ dropNextCreateResponses: 1 });

    const dropped = client.videos.create({ prompt: 'lost answer' });

    await expect(dropped).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const listed = await client.videos.list();
    expect(listed.data.map((video) => video.prompt)).toEqual(['lost answer']);
    expect(sim.stats.droppedCreateResponses).toBe(1);
    await expect(client.videos.create({ prompt: 'answered' })).resolves.toMatchObject({
      status: 'queued',
    });
  });

  it('delays every response by latencyMs', async () => {
    const { client } = await setup({ latencyMs: 150 });
    const before = performance.now();

    await client.videos.list();

    expect(performance.now() - before).toBeGreaterThanOrEqual(145);
  });
});

describe('simulator knobs: latency and client timeouts', () => {
  it('still starts a job whose client gave up during the latency', async () => {
    const { sim } = await setup({ latencyMs: 300 });
    const impatient = new OpenAI({ apiKey, baseURL: sim.baseURL, maxRetries: 0, timeout: 50 });

    const create = impatient.videos.create({ prompt: 'sent, then abandoned' });

    await expect(create).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await vi.waitFor(() => expect(sim.stats.creates).toBe(1), { timeout: 5_000, interval: 20 });
    expect(sim.stats.videos[0]?.prompt).toBe('sent, then abandoned');
  });
});

describe('simulator knobs: content delivery', () => {
  it('expires content contentTtlSeconds after completion, while retrieve still works', async () => {
    const { client, clock, video } = await completedVideo({ contentTtlSeconds: 120 });
    const completed = await client.videos.retrieve(video.id);
    await (await client.videos.downloadContent(video.id)).arrayBuffer();

    clock.ms = ((completed.expires_at ?? 0) + 1) * 1000;
    const download = client.videos.downloadContent(video.id);

    expect(completed.expires_at).toBe((completed.completed_at ?? 0) + 120);
    await expect(download).rejects.toMatchObject({
      status: 404,
      type: 'invalid_request_error',
      code: 'video_expired',
      message: expect.stringContaining('expired'),
    });
    await expect(client.videos.retrieve(video.id)).resolves.toMatchObject({ status: 'completed' });
  });

  it('pads the MP4 to contentSizeBytes with one trailing free box, streamed', async () => {
    const size = 20 * 1024 * 1024;
    const { client, video } = await completedVideo({ contentSizeBytes: size });
    const fixture = defaultVideo();
    const expected = createHash('sha256').update(fixture);
    const freeHeader = Buffer.alloc(8);
    freeHeader.writeUInt32BE(size - fixture.length);
    freeHeader.write('free', 4, 'latin1');
    expected.update(freeHeader);
    const zeros = Buffer.alloc(1024 * 1024);
    for (let left = size - fixture.length - 8; left > 0; left -= zeros.length) {
      expected.update(zeros.subarray(0, Math.min(left, zeros.length)));
    }
    const actual = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;

    const response = await client.videos.downloadContent(video.id);
    const result = await drain(response, (chunk) => {
      actual.update(chunk);
      if (headBytes < fixture.length + 16) {
        head.push(Buffer.from(chunk));
        headBytes += chunk.length;
      }
    });

    expect(Number(response.headers.get('content-length'))).toBe(size);
    expect(result).toEqual({ bytes: size, error: null });
    expect(actual.digest('hex')).toBe(expected.digest('hex'));
    const fixtureBoxes = topLevelBoxes(fixture, fixture.length);
    expect(fixtureBoxes.slice(0, 2)).toEqual(['ftyp', 'moov']);
    expect(topLevelBoxes(Buffer.concat(head), size)).toEqual([...fixtureBoxes, 'free']);
  });

  it('announces the full length but ends the body after truncateContentBytes', async () => {
    const { client, video } = await completedVideo({ truncateContentBytes: 1000 });

    const response = await client.videos.downloadContent(video.id);
    const result = await drain(response);

    expect(Number(response.headers.get('content-length'))).toBe(defaultVideo().length);
    expect(result.bytes).toBe(1000);
    expect(result.error).toBeInstanceOf(Error);
  });

  it('resets the connection after dropConnectionAfterBytes', async () => {
    const { client, video } = await completedVideo({
      contentSizeBytes: 8 * 1024 * 1024,
      dropConnectionAfterBytes: 1024 * 1024,
    });

    const response = await client.videos.downloadContent(video.id);
    const result = await drain(response);

    expect(result.error).toBeInstanceOf(Error);
    expect(result.bytes).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('simulator stats: concurrent jobs', () => {
  it('counts jobs queued or in progress at the same instant', async () => {
    const { client, sim, advance } = await setup();
    for (const prompt of ['one', 'two', 'three']) await client.videos.create({ prompt });
    advance(900);
    await client.videos.create({ prompt: 'four' });
    await client.videos.create({ prompt: 'five' });

    const stats = sim.stats;

    expect(stats.maxConcurrentJobs).toBe(3);
    expect(stats.currentConcurrentJobs).toBe(2);
    expect(stats.creates).toBe(5);
  });

  it('does not count a job that starts the instant another ends as overlapping', async () => {
    const { client, sim, clock } = await setup();
    await client.videos.create({ prompt: 'one' });

    clock.ms = sim.stats.videos[0]?.endsAtMs ?? Number.NaN;
    await client.videos.create({ prompt: 'two' });

    expect(sim.stats.maxConcurrentJobs).toBe(1);
  });

  it('ends a job when it is deleted before finishing', async () => {
    const { client, sim, advance } = await setup();
    const first = await client.videos.create({ prompt: 'one' });
    advance(5);
    await client.videos.delete(first.id);
    advance(5);

    await client.videos.create({ prompt: 'two' });

    expect(sim.stats.maxConcurrentJobs).toBe(1);
    expect(sim.stats.currentConcurrentJobs).toBe(1);
  });
});

describe('simulator: seeded determinism', () => {
  it('produces the same ids and timelines for the same seed, others for another', async () => {
    const run = async (seed: number) => {
      const { client, sim } = await setup({ seed });
      for (const prompt of ['one', 'two', 'three']) await client.videos.create({ prompt });
      return sim.stats.videos.map(({ id, endsAtMs }) => ({ id, endsAtMs }));
    };

    const first = await run(42);
    const again = await run(42);
    const other = await run(43);

    expect(again).toEqual(first);
    expect(other.map((v) => v.id)).not.toEqual(first.map((v) => v.id));
  });
});

/** Walks the top-level ISO-BMFF boxes; the headers must lie within `head`. */
function topLevelBoxes(head: Buffer, total: number): string[] {
  const types: string[] = [];
  let offset = 0;
  while (offset < total) {
    if (offset + 8 > head.length) throw new Error(`box header at ${offset} beyond the head`);
    let size = head.readUInt32BE(offset);
    types.push(head.toString('latin1', offset + 4, offset + 8));
    if (size === 1) size = Number(head.readBigUInt64BE(offset + 8));
    if (size === 0) size = total - offset;
    if (size < 8) throw new Error(`bad box size ${size} at ${offset}`);
    offset += size;
  }
  if (offset !== total) throw new Error(`boxes end at ${offset}, file at ${total}`);
  return types;
}
