import OpenAI, { toFile } from 'openai';
import type { Video } from 'openai/resources/videos';
import { afterEach, describe, expect, it } from 'vitest';
import { simulatedContent } from '../../infra/local/simulator/content.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../infra/local/simulator/simulator.ts';

const apiKey = 'sk-test';
// A JPEG to upload as a reference image: the spritesheet the simulator makes for a 4 s portrait video.
const referenceJpeg = () => simulatedContent('spritesheet', '720x1280', '4');

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A simulator on a hand-moved clock, and an SDK client for it. */
async function setup(options: SimulatorOptions = {}) {
  const clock = { ms: Date.parse('2026-03-01T12:00:00Z') };
  sim = await startSimulator({ seed: 7, now: () => clock.ms, ...options });
  const client = new OpenAI({ apiKey, baseURL: sim.baseURL, maxRetries: 0 });
  const advance = (seconds: number) => {
    clock.ms += seconds * 1000;
  };
  return { sim, client, clock, advance };
}

function postJson(baseURL: string, path: string, body: unknown, key: string | null = apiKey) {
  return fetch(`${baseURL}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify(body),
  });
}

async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('simulator: create', () => {
  it('accepts the SDK multipart create with an uploaded image reference', async () => {
    const { client, sim } = await setup();
    const image = await toFile(referenceJpeg(), 'ref.jpg', { type: 'image/jpeg' });

    const video = await client.videos.create({
      prompt: 'A lighthouse at dusk',
      model: 'sora-2-pro',
      size: '1792x1024',
      seconds: '8',
      input_reference: image,
    });

    expect(video).toMatchObject({
      object: 'video',
      status: 'queued',
      progress: 0,
      prompt: 'A lighthouse at dusk',
      model: 'sora-2-pro',
      size: '1792x1024',
      seconds: '8',
      completed_at: null,
      expires_at: null,
      error: null,
      remixed_from_video_id: null,
    });
    expect(video.id).toMatch(/^video_[0-9a-f]+$/);
    expect(video.created_at).toBe(Date.parse('2026-03-01T12:00:00Z') / 1000);
    expect(sim.stats.videos[0]?.inputReference).toMatchObject({
      kind: 'file',
      contentType: 'image/jpeg',
      bytes: referenceJpeg().length,
    });
  });

  it('accepts a JSON create and fills in the default model, size and seconds', async () => {
    const { sim } = await setup();

    const response = await postJson(sim.baseURL, '/videos', { prompt: 'Waves on rocks' });

    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]+$/);
    expect(await response.json()).toMatchObject({
      object: 'video',
      status: 'queued',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
    });
  });

  it('accepts a JSON image_url input reference', async () => {
    const { sim } = await setup();

    const response = await postJson(sim.baseURL, '/videos', {
      prompt: 'Waves on rocks',
      input_reference: { image_url: 'https://example.com/first-frame.png' },
    });

    expect(response.status).toBe(200);
    expect(sim.stats.videos[0]?.inputReference).toEqual({
      kind: 'image_url',
      imageUrl: 'https://example.com/first-frame.png',
    });
  });

  it('accepts the SDK encoding of an image_url reference in multipart', async () => {
    const { client, sim } = await setup();

    await client.videos.create({
      prompt: 'Waves on rocks',
      input_reference: { image_url: 'https://example.com/frame.webp' },
    });

    expect(sim.stats.videos[0]?.inputReference).toEqual({
      kind: 'image_url',
      imageUrl: 'https://example.com/frame.webp',
    });
  });

  it('refuses an input reference that is not a JPEG, PNG or WebP image', async () => {
    const { client } = await setup();
    const text = await toFile(Buffer.from('not an image'), 'notes.txt', { type: 'text/plain' });

    await expect(
      client.videos.create({ prompt: 'Waves', input_reference: text }),
    ).rejects.toMatchObject({ status: 400, param: 'input_reference' });
  });

  it.each([
    [{ model: 'sora-3' }, 'model'],
    [{ size: '1920x1080' }, 'size'],
    [{ seconds: '5' }, 'seconds'],
    [{ prompt: '   ' }, 'prompt'],
  ])(
    'answers 400 invalid_request_error naming the bad parameter for %o',
    async (override, param) => {
      const { client } = await setup();

      const create = client.videos.create({ prompt: 'A fox', ...override } as never);

      await expect(create).rejects.toMatchObject({
        status: 400,
        type: 'invalid_request_error',
        param,
      });
    },
  );

  it('answers 400 missing_required_parameter when the prompt is missing', async () => {
    const { sim } = await setup();

    const response = await postJson(sim.baseURL, '/videos', { model: 'sora-2' });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: expect.stringContaining('prompt'),
        type: 'invalid_request_error',
        param: 'prompt',
        code: 'missing_required_parameter',
      },
    });
  });

  it('accepts 1920x1080 for sora-2-pro only', async () => {
    const { client } = await setup();

    const pro = await client.videos.create({
      prompt: 'A fox',
      model: 'sora-2-pro',
      size: '1920x1080' as never,
    });

    expect(pro.size).toBe('1920x1080');
  });

  it('validates against the models option instead of the default catalogue', async () => {
    const { client } = await setup({
      models: { 'veo-3': { sizes: ['1280x720', '720x1280'], seconds: ['8', '4'] } },
    });

    const video = await client.videos.create({ prompt: 'A fox' });
    const sora = client.videos.create({ prompt: 'A fox', model: 'sora-2' });

    expect(video).toMatchObject({ model: 'veo-3', size: '1280x720', seconds: '8' });
    await expect(sora).rejects.toMatchObject({ status: 400, param: 'model' });
  });
});

describe('simulator: auth', () => {
  it('answers 401 invalid_api_key without a bearer token', async () => {
    const { sim } = await setup();

    const response = await postJson(sim.baseURL, '/videos', { prompt: 'A fox' }, null);

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key' },
    });
  });

  it('accepts only the configured key when apiKey is set', async () => {
    const { sim } = await setup({ apiKey: 'the-right-key' });
    const wrong = new OpenAI({ apiKey: 'wrong', baseURL: sim.baseURL, maxRetries: 0 });
    const right = new OpenAI({ apiKey: 'the-right-key', baseURL: sim.baseURL, maxRetries: 0 });

    await expect(wrong.videos.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    // A list the right key may read (toBeDefined would pass for any answer that resolves).
    await expect(right.videos.list()).resolves.toMatchObject({ data: [], has_more: false });
  });
});

describe('simulator: lifecycle', () => {
  it('moves a job from queued through in_progress to completed on an accelerated clock', async () => {
    sim = await startSimulator({ speed: 200 });
    const client = new OpenAI({ apiKey, baseURL: sim.baseURL, maxRetries: 0 });
    const created = await client.videos.create({ prompt: 'A paper boat' });
    const seen = new Set<string>([created.status]);
    const progress: number[] = [];

    const done = await pollUntil(
      async () => {
        const video = await client.videos.retrieve(created.id);
        seen.add(video.status);
        progress.push(video.progress);
        return video;
      },
      (video) => video.status === 'completed',
    );

    expect([...seen]).toEqual(['queued', 'in_progress', 'completed']);
    expect(done.progress).toBe(100);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.expires_at).toBe((done.completed_at ?? 0) + 3600 / 200);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('reports in_progress with a progress that rises with simulated time', async () => {
    const { client, advance } = await setup();
    const { id } = await client.videos.create({ prompt: 'A paper boat', seconds: '12' });

    advance(30);
    const early = await client.videos.retrieve(id);
    advance(40);
    const later = await client.videos.retrieve(id);

    expect(early.status).toBe('in_progress');
    expect(later.status).toBe('in_progress');
    expect(later.progress).toBeGreaterThan(early.progress);
    expect(later.progress).toBeLessThan(100);
  });

  it('takes about a minute for a 4 s sora-2 clip, two for 12 s, and longer on pro', async () => {
    const { client, sim } = await setup();
    await client.videos.create({ prompt: 'a', seconds: '4' });
    await client.videos.create({ prompt: 'b', seconds: '12' });
    await client.videos.create({ prompt: 'c', seconds: '4', model: 'sora-2-pro' });

    const [short, long, pro] = sim.stats.videos.map((v) => (v.endsAtMs - v.createdAtMs) / 1000);

    expect(short).toBeGreaterThan(40);
    expect(short).toBeLessThan(75);
    expect(long).toBeGreaterThan(100);
    expect(long).toBeLessThan(150);
    expect(pro).toBeGreaterThan(2 * (short ?? 0));
  });
});

describe('simulator: list', () => {
  async function createFive() {
    const context = await setup();
    const ids: string[] = [];
    for (const prompt of ['one', 'two', 'three', 'four', 'five']) {
      ids.push((await context.client.videos.create({ prompt })).id);
      context.advance(1);
    }
    return { ...context, ids };
  }

  it('pages with limit and after, newest first by default', async () => {
    const { sim, ids } = await createFive();
    const get = async (query: string) =>
      (await fetch(`${sim.baseURL}/videos?${query}`, {
        headers: { authorization: `Bearer ${apiKey}` },
      }).then((response) => response.json())) as {
        object: string;
        data: Video[];
        first_id: string | null;
        last_id: string | null;
        has_more: boolean;
      };

    const first = await get('limit=2');
    const second = await get(`limit=2&after=${first.last_id}`);
    const last = await get(`limit=2&after=${second.last_id}`);

    const newestFirst = [...ids].reverse();
    expect(first).toMatchObject({
      object: 'list',
      first_id: newestFirst[0],
      last_id: newestFirst[1],
      has_more: true,
    });
    expect(second.data.map((v) => v.id)).toEqual(newestFirst.slice(2, 4));
    expect(last.data.map((v) => v.id)).toEqual(newestFirst.slice(4));
    expect(last.has_more).toBe(false);
  });

  it('walks every page in ascending order through the SDK paginator', async () => {
    const { client, ids } = await createFive();

    const seen: string[] = [];
    for await (const video of client.videos.list({ limit: 2, order: 'asc' })) seen.push(video.id);

    expect(seen).toEqual(ids);
  });

  it('defaults to 20 per page and refuses a limit above 100', async () => {
    const { client } = await createFive();

    const page = await client.videos.list();
    const tooMany = client.videos.list({ limit: 101 });

    expect(page.data).toHaveLength(5);
    expect(page.has_more).toBe(false);
    await expect(tooMany).rejects.toMatchObject({ status: 400, param: 'limit' });
  });
});

describe('simulator: remix and delete', () => {
  it('remixes a completed video into a new job that names its source', async () => {
    const { client, advance } = await setup();
    const source = await client.videos.create({ prompt: 'A red kite', seconds: '8' });
    advance(600);

    const remix = await client.videos.remix(source.id, { prompt: 'A blue kite' });

    expect(remix).toMatchObject({
      status: 'queued',
      prompt: 'A blue kite',
      remixed_from_video_id: source.id,
      seconds: '8',
      model: source.model,
      size: source.size,
    });
    expect(remix.id).not.toBe(source.id);
  });

  it('refuses to remix a video that has not completed', async () => {
    const { client } = await setup();
    const source = await client.videos.create({ prompt: 'A red kite' });

    const remix = client.videos.remix(source.id, { prompt: 'A blue kite' });

    await expect(remix).rejects.toMatchObject({ status: 400 });
  });

  it('deletes a video: video.deleted, then 404 video_not_found and gone from the list', async () => {
    const { client, advance } = await setup();
    const video = await client.videos.create({ prompt: 'A red kite' });
    advance(600);

    const deleted = await client.videos.delete(video.id);

    expect(deleted).toEqual({ id: video.id, object: 'video.deleted', deleted: true });
    await expect(client.videos.retrieve(video.id)).rejects.toMatchObject({
      status: 404,
      code: 'video_not_found',
    });
    expect((await client.videos.list()).data).toEqual([]);
  });
});

describe('simulator: content', () => {
  async function completedVideo() {
    const context = await setup();
    const video = await context.client.videos.create({ prompt: 'A red kite' });
    context.advance(600);
    return { ...context, video };
  }

  it('serves the MP4, starting with an ftyp box, with a matching Content-Length', async () => {
    const { client, video } = await completedVideo();

    const response = await client.videos.downloadContent(video.id);
    const bytes = Buffer.from(await response.arrayBuffer());

    expect(response.headers.get('content-type')).toBe('video/mp4');
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
    expect(bytes).toEqual(simulatedContent('video', video.size, video.seconds));
  });

  it('serves a WebP thumbnail of the first frame at a quarter of the video size', async () => {
    const { client, video } = await completedVideo();

    const response = await client.videos.downloadContent(video.id, { variant: 'thumbnail' });
    const bytes = Buffer.from(await response.arrayBuffer());

    expect(response.headers.get('content-type')).toBe('image/webp');
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.toString('latin1', 0, 4)).toBe('RIFF');
    expect(bytes.toString('latin1', 8, 16)).toBe('WEBPVP8L');
    // VP8L: a 0x2f signature, then width - 1 and height - 1 in 14 bits each, low bits first.
    const header = bytes.readUInt32LE(21);
    expect([(header & 0x3fff) + 1, ((header >>> 14) & 0x3fff) + 1]).toEqual([180, 320]);
  });

  it('serves a JPEG spritesheet of 4 x 2 frames at the video aspect ratio', async () => {
    const { client, video } = await completedVideo();

    const response = await client.videos.downloadContent(video.id, { variant: 'spritesheet' });
    const bytes = Buffer.from(await response.arrayBuffer());

    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    // The baseline frame header (SOF0) gives the height, then the width: 4 x 90 by 2 x 160.
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    expect([bytes.readUInt16BE(sof + 7), bytes.readUInt16BE(sof + 5)]).toEqual([360, 320]);
  });

  it('answers a 4xx error envelope for the content of a video still rendering', async () => {
    const { client } = await setup();
    const video = await client.videos.create({ prompt: 'A red kite' });

    const download = client.videos.downloadContent(video.id);

    await expect(download).rejects.toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'video_not_ready',
    });
  });

  it('refuses an unknown variant naming the parameter', async () => {
    const { client, video } = await completedVideo();

    const download = client.videos.downloadContent(video.id, { variant: 'gif' as never });

    await expect(download).rejects.toMatchObject({ status: 400, param: 'variant' });
  });
});
