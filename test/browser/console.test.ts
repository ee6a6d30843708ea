import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { axeViolations, launchChromium } from './chromium.ts';

// The web console in a real browser (Debian's Chromium through playwright-core) against the
// local stack: the same bundle, headers and CORS as on CloudFront. UPDATE_SCREENSHOTS=1 saves
// a screenshot of each page under docs/images/.
const SPEED = 20;
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));
const WAIT = { timeout: 30_000 };

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every URL the browser asked for, and console errors (a CSP violation is one). */
const requests: { url: string; authorization: string | undefined }[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startLocalStack({
      dataDir: null,
      speed: SPEED,
      // The usage page counts "today": at SPEED a run started just before midnight UTC would
      // end on the next day, so the stack's clock starts at the last noon UTC.
      clockStartMs: lastNoonUtc(),
      // No scheduled run: a deferred job waits until the test cancels it.
      scheduleTimer: false,
      logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
    }),
    launchChromium(),
  ]);
  context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  page = await context.newPage();
  page.on('request', (request) => {
    requests.push({ url: request.url(), authorization: request.headers().authorization });
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  if (SCREENSHOTS) await mkdir(IMAGES, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function screenshot(name: string, target: Page = page): Promise<void> {
  if (!SCREENSHOTS) return;
  await target.waitForFunction(() => {
    const { document } = globalThis as unknown as {
      document: { images: Iterable<{ complete: boolean; naturalWidth: number }> };
    };
    return [...document.images].every((image) => image.complete && image.naturalWidth > 0);
  });
  await target.screenshot({ path: `${IMAGES}${name}.png`, fullPage: true });
}

/** Submits a prompt through the submit page and answers the job id from the detail page. */
async function submitThroughConsole(prompt: string, options: { defer?: boolean } = {}) {
  await page.getByRole('link', { name: 'New video', exact: true }).click();
  return fillAndSubmit(prompt, options);
}

/** Fills the submit page already shown and submits it. */
async function fillAndSubmit(prompt: string, options: { defer?: boolean } = {}) {
  await page.getByLabel('Prompt').fill(prompt);
  if (options.defer) await page.getByLabel(/Wait for the next scheduled batch run/).check();
  await page.getByRole('button', { name: 'Generate video' }).click();
  await page.getByRole('heading', { name: 'Video job' }).waitFor(WAIT);
  const id = await page.locator('dd code').first().textContent();
  if (!id) throw new Error('the detail page shows no job id');
  return id;
}

const statusBadge = () => page.locator('.status-line .status');

/** The parts of an HTMLVideoElement the test uses (this project's types are Node's, not the DOM's). */
interface VideoElement {
  muted: boolean;
  duration: number;
  videoWidth: number;
  videoHeight: number;
  currentTime: number;
  play(): Promise<void>;
  pause(): void;
}

describe('web console', () => {
  it('signs in through consoleUrl: the token leaves the address bar and reaches only the API', async () => {
    const token = stack.token;
    expect(stack.info().consoleUrl).toContain(`#token=${encodeURIComponent(token)}`);

    await page.goto(stack.info().consoleUrl);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor(WAIT);

    expect(new URL(page.url()).hash).toBe('#/');
    expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(token);
    const consoleOrigin = new URL(stack.info().consoleUrl).origin;
    // The console's own files were fetched too: the loop below checks some of them.
    expect(requests.some((request) => request.url.startsWith(consoleOrigin))).toBe(true);
    for (const request of requests) {
      expect(request.url).not.toContain(token);
      if (request.url.startsWith(consoleOrigin)) expect(request.authorization).toBeUndefined();
    }
    expect(
      requests.some((request) => request.url.startsWith(stack.apiUrl) && request.authorization),
    ).toBe(true);
  });

  it('submits a prompt with the catalogue estimate, follows it to COMPLETED and plays the video', async () => {
    await page.getByRole('link', { name: 'New video', exact: true }).click();
    await page.getByLabel('Seconds').selectOption('8');
    // sora-2 at $0.10 a second, from the catalogue in config.json.
    await expect
      .poll(() => page.locator('#estimate').textContent(), WAIT)
      .toMatch(/Estimated cost \$0\.80\b/);
    await screenshot('console-submit');

    const id = await fillAndSubmit('A red fox running through fresh snow at dawn');
    // The job page shows the prompt it was given (a locator is always truthy: wait for the text).
    await page
      .locator('.prompt-text', { hasText: 'A red fox running through fresh snow at dawn' })
      .waitFor(WAIT);
    await page.locator('.status-line .status', { hasText: 'completed' }).waitFor(WAIT);

    const video = page.locator('video');
    await video.waitFor(WAIT);
    const played = await video.evaluate(async (node) => {
      const element = node as unknown as VideoElement;
      element.muted = true;
      await element.play();
      await new Promise<void>((resolve) => {
        const check = () => (element.currentTime > 0 ? resolve() : setTimeout(check, 20));
        check();
      });
      return {
        duration: element.duration,
        currentTime: element.currentTime,
        size: `${element.videoWidth}x${element.videoHeight}`,
      };
    });
    expect(played.currentTime).toBeGreaterThan(0);
    await page.getByRole('slider', { name: /Preview frames/ }).waitFor(WAIT);
    const job = (await (
      await fetch(`${stack.apiUrl}/videos/${id}`, { headers: stack.headers })
    ).json()) as { status: string; size: string; seconds: string };
    expect(job.status).toBe('COMPLETED');
    // The player shows the video that was asked for: its size, the 8 seconds chosen above.
    expect(job.seconds).toBe('8');
    expect(played).toMatchObject({ duration: 8, size: job.size });
    await video.evaluate((node) => {
      const element = node as unknown as VideoElement;
      element.pause();
      element.currentTime = 0;
    });
    await screenshot('console-job');

    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.locator('.status', { hasText: 'completed' }).waitFor(WAIT);
    await row.locator('img').waitFor(WAIT);
    // Ages are on the API's clock (its Date header), here the stack's: the render took more than
    // a minute of it, a few seconds of the wall clock.
    await expect.poll(() => row.locator('time').textContent(), WAIT).toMatch(/^[1-9]\d* min ago$/);
  });

  it('cancels a waiting job after asking: CANCELLED at once, no provider call, and says so', async () => {
    const creates = stack.simulator?.stats.creates;
    const id = await submitThroughConsole('A lighthouse in a storm, for a later batch', {
      defer: true,
    });
    await statusBadge().filter({ hasText: 'queued' }).waitFor(WAIT);
    const statusOf = async () => {
      const job = await fetch(`${stack.apiUrl}/videos/${id}`, { headers: stack.headers });
      return ((await job.json()) as { status: string }).status;
    };

    // The first click only asks; "No" puts the button back, focused.
    await page.getByRole('button', { name: 'Cancel job' }).click();
    const question = page.getByRole('group', { name: /^Cancel this waiting job\?/ });
    expect(await question.textContent()).toContain('nothing is spent');
    expect(await statusOf()).toBe('QUEUED');
    await page.getByRole('button', { name: 'No, keep it' }).click();
    expect(await question.count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel job' }).evaluate(isFocused)).toBe(true);
    expect(await statusOf()).toBe('QUEUED');

    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the job' }).click();

    await statusBadge().filter({ hasText: 'cancelled' }).waitFor(WAIT);
    const notice = page.locator('#job-notice');
    await notice.waitFor(WAIT);
    expect(await notice.textContent()).toBe('Cancelled. Nothing was spent.');
    expect(await notice.evaluate(isFocused)).toBe(true);
    expect(await statusOf()).toBe('CANCELLED');
    expect(stack.simulator?.stats.creates).toBe(creates);
    expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
  });

  it("explains a failed job's error and what to do", async () => {
    await submitThroughConsole('[moderation-block] A scene the provider refuses');
    await statusBadge().filter({ hasText: 'failed' }).waitFor(WAIT);

    const explanation = page.getByRole('region', { name: 'Why it failed' });
    await expect.poll(() => explanation.textContent(), WAIT).toContain('moderation_blocked');
    expect(await explanation.textContent()).toContain('Rewrite the prompt');
    // The advice is given once ("... submit it again"), not repeated in other words.
    expect((await explanation.textContent())?.match(/again/g)).toHaveLength(1);
    // A failed job shows no progress: its last percentage means nothing.
    expect(await page.locator('.status-line').textContent()).not.toMatch(/%/);
    expect(await page.locator('.status-line progress').count()).toBe(0);
    await screenshot('console-failed');
  });

  it('shows usage: spend today and the waiting and running jobs', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: /^Today/ }).waitFor(WAIT);
    const today = page.getByRole('region', { name: /^Today/ });
    expect(await today.locator('dl').textContent()).toMatch(/Spent \(rendered\)\$0\.80Reserved/);
    const share = page.getByRole('region', { name: 'Your share today (client default)' });
    expect(await share.locator('dl').textContent()).toMatch(/Spent\$0\.80Reserved/);
    // The local stack gives the default client no budget of its own: counted, not limited.
    expect(await share.locator('dl').textContent()).toMatch(
      /Own daily budgetdefault: \$\d+\.\d\d \(reserved \$\d+\.\d\d\), none set/,
    );
    await page.getByRole('heading', { name: /^Waiting/ }).waitFor(WAIT);
    // The cards keep apart, and a card's heading sits at its padding, not below an empty band.
    const todayBox = await boxOf(today);
    const shareBox = await boxOf(share);
    expect(shareBox.y - (todayBox.y + todayBox.height)).toBeGreaterThanOrEqual(8);
    const headingBox = await boxOf(today.getByRole('heading', { name: /^Today/ }));
    expect(headingBox.y - todayBox.y).toBeLessThanOrEqual(20);
    // One money format: cents (tenths of a cent only under $0.10).
    for (const amount of (await page.locator('main').textContent())?.match(/\$\d+\.\d+/g) ?? []) {
      expect(amount).toMatch(/^\$\d+\.\d\d$/);
    }
    await screenshot('console-usage');
  });

  it('filters the list by status', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count(), WAIT).toBe(1);
    expect(await page.locator('tbody tr .status').textContent()).toBe('failed');
    expect(await page.locator('tbody tr progress').count()).toBe(0);
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count(), WAIT).toBe(3);
    await screenshot('console-jobs');
  });

  it('works with the keyboard: skip link, and the spritesheet scrubber steps through its frames', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: /red fox/ }).click();
    const scrubber = page.getByRole('slider', { name: /Preview frames/ });
    await scrubber.waitFor(WAIT);
    const focused = () =>
      page.evaluate(() => {
        const { document } = globalThis as unknown as {
          document: { activeElement: { id: string; textContent: string } | null };
        };
        return document.activeElement?.id || document.activeElement?.textContent;
      });

    // Freshly loaded (the session keeps the token), the first Tab reaches the skip link.
    await page.reload();
    await scrubber.waitFor(WAIT);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('skip-link');
    await page.keyboard.press('Enter');
    expect(await focused()).toBe('main');

    // The simulator's sheet is 4 x 2 frames at the video's aspect ratio.
    await expect.poll(() => scrubber.getAttribute('aria-valuemax'), WAIT).toBe('8');
    // It looks like a control, not a second still: a label, a track and a thumb, a cursor.
    expect(await page.getByText(/^Hover or drag to scrub/).isVisible()).toBe(true);
    expect(await scrubber.evaluate(cursorOf)).toBe('ew-resize');
    const thumb = scrubber.locator('.scrubber-thumb');
    expect((await boxOf(scrubber.locator('.scrubber-track'))).height).toBeGreaterThan(0);
    const thumbAtStart = (await boxOf(thumb)).x;
    await scrubber.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await scrubber.getAttribute('aria-valuenow')).toBe('3');
    expect((await boxOf(thumb)).x).toBeGreaterThan(thumbAtStart);
    await page.keyboard.press('End');
    expect(await scrubber.getAttribute('aria-valuetext')).toBe('Frame 8 of 8');
    // The pointer over its left edge shows the first frame.
    const box = await boxOf(scrubber);
    await page.mouse.move(box.x + 2, box.y + box.height / 2);
    await expect.poll(() => scrubber.getAttribute('aria-valuenow'), WAIT).toBe('1');
  });

  it('remixes a completed video into a new job that completes with its own video', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: /red fox/ }).click();
    await page.locator('video').waitFor(WAIT);
    const original = await page.locator('dd code').first().textContent();

    await page.getByLabel('Remix: describe the change').fill('Same fox, now at dusk');
    await page.getByRole('button', { name: 'Remix', exact: true }).click();

    await page.getByText('Same fox, now at dusk').waitFor(WAIT);
    await statusBadge().filter({ hasText: 'completed' }).waitFor(WAIT);
    await page.locator('video').waitFor(WAIT);
    const facts = page.locator('dl.facts');
    expect(await facts.textContent()).toContain(`Remix of${original}`);
  });

  it('updates the list live while a job runs, without reloading the page', async () => {
    const submitted = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...stack.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A paper boat drifting down a rainy street', seconds: '12' }),
    });
    const { id } = (await submitted.json()) as { id: string };
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.waitFor(WAIT);
    await page.evaluate(() => {
      (globalThis as { sameDocument?: boolean }).sameDocument = true;
    });

    expect(await row.getAttribute('data-status')).not.toBe('COMPLETED');
    await page.locator(`tr[data-job-id="${id}"][data-status="COMPLETED"]`).waitFor(WAIT);
    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
  });

  it('lists a dropped batch by its id and cancels its waiting jobs', async () => {
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    const creates = stack.simulator?.stats.creates;
    const lines = [1, 2].map((i) => JSON.stringify({ prompt: `Batch clip ${i}` }));
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'batches/console.jsonl',
        Body: lines.join('\n'),
      }),
    );
    s3.destroy();
    await stack.whenEventsIdle();
    const listed = await fetch(`${stack.apiUrl}/videos?limit=100`, { headers: stack.headers });
    const { videos } = (await listed.json()) as { videos: { prompt: string; batchId?: string }[] };
    const batchId = videos.find((video) => video.prompt === 'Batch clip 1')?.batchId;
    if (!batchId) throw new Error('the dropped file has no batch id');

    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    // The list shown again (the form with it) once the dropped jobs are on it.
    await page.getByRole('link', { name: 'Batch clip 1' }).waitFor(WAIT);
    await page.getByLabel('Batch id').fill(batchId);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count(), WAIT).toBe(2);
    await page.getByRole('button', { name: 'Cancel the waiting jobs of this batch' }).click();
    // It asks first, with the count; nothing is cancelled yet.
    await page
      .getByRole('group', { name: `Cancel 2 waiting jobs of batch ${batchId}?`, exact: false })
      .waitFor(WAIT);
    expect(await page.locator('tbody tr[data-status="CANCELLED"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Yes, cancel 2 jobs' }).click();

    await page.getByRole('status').filter({ hasText: '2 cancelled.' }).waitFor(WAIT);
    await expect
      .poll(() => page.locator('tbody tr[data-status="CANCELLED"]').count(), WAIT)
      .toBe(2);
    expect(
      await page.getByRole('button', { name: 'Cancel the waiting jobs of this batch' }).count(),
    ).toBe(0);
    expect(stack.simulator?.stats.creates).toBe(creates);
  });

  it('shows Sign out on the line of the other nav links', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    const middle = async (locator: Locator) => {
      const box = await boxOf(locator);
      return box.y + box.height / 2;
    };
    const signOut = page.getByRole('button', { name: 'Sign out' });
    const jobs = page.getByRole('link', { name: 'Jobs', exact: true });
    expect(Math.abs((await middle(signOut)) - (await middle(jobs)))).toBeLessThanOrEqual(1);
  });

  it('passes axe-core WCAG 2.1 AA checks on every page, and loads nothing its CSP blocks', async () => {
    // Each page, with the heading that shows it is the one rendered.
    const pages: [string, string, () => Promise<void>][] = [
      ['jobs', 'Jobs', () => page.getByRole('link', { name: 'Jobs', exact: true }).click()],
      [
        'submit',
        'New video',
        () => page.getByRole('link', { name: 'New video', exact: true }).click(),
      ],
      ['usage', 'Usage', () => page.getByRole('link', { name: 'Usage' }).click()],
      [
        'job detail',
        'Video job',
        async () => {
          await page.getByRole('link', { name: 'Jobs', exact: true }).click();
          await page.getByRole('link', { name: /red fox/ }).click();
          await page.locator('video').waitFor(WAIT);
        },
      ],
    ];
    const found: string[] = [];
    for (const [name, heading, open] of pages) {
      await open();
      await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor(WAIT);
      found.push(...(await axeViolations(page)).map((violation) => `${name}: ${violation}`));
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
    found.push(...(await axeViolations(page)).map((violation) => `sign-in: ${violation}`));
    await screenshot('console-sign-in');

    expect(found).toEqual([]);
    expect(consoleErrors.filter((error) => /Content Security Policy/i.test(error))).toEqual([]);
  });

  it('signed out, shows no Sign out, and the sign-in page says where a token comes from', async () => {
    await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: Storage }).sessionStorage.clear(),
    );
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);

    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
    const source = page.locator('#token-source');
    expect(await source.textContent()).toMatch(
      /npm start.*\.local\/stack\.json.*operator.*section 12/,
    );
    expect(await page.getByLabel('API token').getAttribute('aria-describedby')).toContain(
      'token-source',
    );
  });

  it('pages through the list, 20 jobs a page, forward and back', async () => {
    await page.goto(stack.info().consoleUrl);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor(WAIT);
    for (let i = 1; i <= 21; i += 1) {
      const answer = await fetch(`${stack.apiUrl}/videos`, {
        method: 'POST',
        headers: { ...stack.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `Paging clip ${i}`, defer: true }),
      });
      expect(answer.status).toBe(202);
    }

    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: 'Paging clip 21' }).waitFor(WAIT);
    expect(await page.locator('tbody tr').count()).toBe(20);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('link', { name: 'Paging clip 1', exact: true }).waitFor(WAIT);
    expect(await page.getByRole('link', { name: 'Paging clip 21' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('link', { name: 'Paging clip 21' }).waitFor(WAIT);
    expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
  });

  it('fills a filtered page and offers Next page only when more jobs match', async () => {
    // 28 jobs now; the one FAILED job is older than the newest 20, which the API reads first.
    // The list shown is replaced when the link's page is read: filter on the new one, not the old.
    const shown = await page.locator('table.jobs').elementHandle();
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.waitForFunction((table) => !table?.isConnected, shown, WAIT);
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('tbody tr[data-status="FAILED"]').waitFor(WAIT);
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
  });

  it('fits a phone: the job list has no sideways scrolling at 390 px', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await phone.goto(stack.info().consoleUrl);
      await phone.locator('tbody tr').first().waitFor(WAIT);
      expect(await horizontalOverflow(phone)).toBeLessThanOrEqual(0);
      await screenshot('console-phone', phone);
    } finally {
      await phone.close();
    }
  });

  it('says before cancelling a rendering job that it still costs its price, then cancels it', async () => {
    // sora-2-pro at 12 s renders long enough (2.5 times sora-2) to be cancelled mid-render.
    const submitted = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...stack.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'A slow pan over a glacier',
        model: 'sora-2-pro',
        seconds: '12',
      }),
    });
    const { id, estimatedCostUsd } = (await submitted.json()) as {
      id: string;
      estimatedCostUsd: number;
    };
    const price = `$${estimatedCostUsd.toFixed(2)}`;
    await page.goto(`${new URL(stack.info().consoleUrl).origin}/#/videos/${id}`);
    await statusBadge().filter({ hasText: 'in progress' }).waitFor(WAIT);

    await page.getByRole('button', { name: 'Cancel job' }).click();
    const question = page.getByRole('group', { name: /^This job is rendering/ });
    expect(await question.textContent()).toContain(
      `This job is rendering: cancelling it still costs ${price}`,
    );
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Yes, cancel the job' }).click();

    await statusBadge().filter({ hasText: 'cancelled' }).waitFor(WAIT);
    await page.locator('#job-notice').waitFor(WAIT);
    expect(await page.locator('#job-notice').textContent()).toBe(
      `Cancelled. The render had started: ${price} is counted as spent.`,
    );
  });

  it('keeps a model id, a size, a cost and an age on one line each in the list at 1024 px and 700 px', async () => {
    const answer = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...stack.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A kite over dunes', model: 'luma.ray-v2:0', defer: true }),
    });
    expect(answer.status).toBe(202);
    const { id } = (await answer.json()) as { id: string };
    // Above the phone layout (40rem), where the table is a table.
    for (const width of [1024, 700]) {
      const wide = await browser.newPage({ viewport: { width, height: 800 } });
      try {
        await wide.goto(stack.info().consoleUrl);
        const row = wide.locator(`tr[data-job-id="${id}"]`);
        await row.waitFor(WAIT);
        expect(await row.locator('td[data-label="Model"]').textContent()).toBe('luma.ray-v2:0');
        for (const label of ['Model', 'Size', 'Cost', 'Age']) {
          const lines = await row.locator(`td[data-label="${label}"]`).evaluate((cell) => {
            // In the page: the distinct line tops of the cell's text.
            const { document } = globalThis as unknown as {
              document: {
                createRange(): {
                  selectNodeContents(node: unknown): void;
                  getClientRects(): Iterable<{ top: number }>;
                };
              };
            };
            const range = document.createRange();
            range.selectNodeContents(cell);
            return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
          });
          expect(lines, `${label} at ${width} px`).toBe(1);
        }
        // Prices of $0.40 and $7.50 on the same list read in one format.
        expect(await row.locator('td[data-label="Cost"]').textContent()).toBe('$7.50');
        expect(await wide.locator('td[data-label="Cost"]').allTextContents()).toContain('$0.40');
      } finally {
        await wide.close();
      }
    }
  });

  it('wraps a 4,000-character prompt without spaces: the job page and the list fit 1280 px and 390 px', async () => {
    const answer = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...stack.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x'.repeat(4000), defer: true }),
    });
    expect(answer.status).toBe(202);
    const { id } = (await answer.json()) as { id: string };

    for (const width of [1280, 390]) {
      const sized = await browser.newPage({ viewport: { width, height: 800 } });
      try {
        await sized.goto(stack.info().consoleUrl);
        await sized.locator(`tr[data-job-id="${id}"]`).waitFor(WAIT);
        expect(await horizontalOverflow(sized), `the list at ${width} px`).toBeLessThanOrEqual(0);
        await sized.goto(`${new URL(stack.info().consoleUrl).origin}/#/videos/${id}`);
        await sized.getByRole('heading', { name: 'Video job' }).waitFor(WAIT);
        expect(await horizontalOverflow(sized), `the job page at ${width} px`).toBeLessThanOrEqual(
          0,
        );
      } finally {
        await sized.close();
      }
    }
  });

  it('counts the prompt and refuses one over 4,000 characters instead of cutting it', async () => {
    const newest = async () => {
      const listed = await fetch(`${stack.apiUrl}/videos?limit=1`, { headers: stack.headers });
      return ((await listed.json()) as { videos: { id: string }[] }).videos[0]?.id;
    };
    const before = await newest();
    await page.goto(stack.info().consoleUrl);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor(WAIT);
    await page.getByRole('link', { name: 'New video', exact: true }).click();
    const prompt = page.getByLabel('Prompt');
    const counter = page.locator('#prompt-count');

    await prompt.fill('y'.repeat(4001));
    expect(await counter.textContent()).toBe('4001 / 4000 characters: 1 over the limit');
    expect(await prompt.inputValue()).toHaveLength(4001);
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page
      .getByText('The prompt is 4001 characters; the limit is 4000. Shorten it by 1.')
      .waitFor(WAIT);
    expect(await prompt.getAttribute('aria-invalid')).toBe('true');
    expect(await newest()).toBe(before);

    // The limit counts after trimming, as the API does.
    await prompt.fill(` ${'y'.repeat(4000)} `);
    expect(await counter.textContent()).toBe('4000 / 4000 characters');
    await page.getByLabel(/Wait for the next scheduled batch run/).check();
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page.getByRole('heading', { name: 'Video job' }).waitFor(WAIT);
    expect(await page.locator('.prompt-text').textContent()).toBe('y'.repeat(4000));
  });

  it('asks for a priority and a start timeout, refusing a timeout out of range before submitting', async () => {
    const newest = async () => {
      const listed = await fetch(`${stack.apiUrl}/videos?limit=1`, { headers: stack.headers });
      return ((await listed.json()) as { videos: { id: string }[] }).videos[0]?.id;
    };
    const before = await newest();
    await page.getByRole('link', { name: 'New video', exact: true }).click();
    await page.getByLabel('Prompt').fill('A paper boat on a puddle, wanted within the hour');
    await page.getByLabel('Priority').selectOption('high');
    const timeout = page.getByLabel('Start timeout');

    await timeout.fill('0');
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page
      .getByText('Enter a whole number of seconds from 1 to 604800 (7 days), or leave it empty.')
      .waitFor(WAIT);
    expect(await timeout.getAttribute('aria-invalid')).toBe('true');
    expect(await newest()).toBe(before);

    await timeout.fill('3600');
    // Deferred: the job keeps its fields without rendering anything.
    await page.getByLabel(/Wait for the next scheduled batch run/).check();
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page.getByRole('heading', { name: 'Video job' }).waitFor(WAIT);
    const id = await page.locator('dd code').first().textContent();
    const job = await fetch(`${stack.apiUrl}/videos/${id}`, { headers: stack.headers });
    expect(await job.json()).toMatchObject({ priority: 'high', startTimeoutSeconds: 3600 });
  });

  it("shows where jobs stand: a waiting job's place in line and ETA, a running job's ETA, and they move live", async () => {
    // Fair admission's standing (issue 23) as the API answers it, laid over real jobs: which
    // place and ETA a job gets is the API's business, tested there; here, what the console makes
    // of each case.
    const submit = async (body: Record<string, unknown>) => {
      const answer = await fetch(`${stack.apiUrl}/videos`, {
        method: 'POST',
        headers: { ...stack.headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(202);
      return ((await answer.json()) as { id: string }).id;
    };
    const waiting = await submit({ prompt: 'A tram in the fog, third in line', defer: true });
    const unknown = await submit({ prompt: 'A tram in the fog, fourth in line', defer: true });
    // sora-2-pro at 12 s renders long enough to be seen running.
    const running = await submit({ prompt: 'A tram at night', model: 'sora-2-pro', seconds: '12' });
    await expect
      .poll(async () => {
        const job = await fetch(`${stack.apiUrl}/videos/${running}`, { headers: stack.headers });
        return ((await job.json()) as { status: string }).status;
      }, WAIT)
      .toBe('IN_PROGRESS');
    const standings = new Map<string, Record<string, unknown>>([
      [
        waiting,
        { priority: 'high', startTimeoutSeconds: 600, queue: { position: 3, etaSeconds: 130 } },
      ],
      [unknown, { queue: { position: 4, etaSeconds: null } }],
      [running, { startedAt: new Date(Date.now()).toISOString(), etaSeconds: 38 }],
    ]);
    await page.route(`${stack.apiUrl}/videos**`, async (route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const response = await route.fetch();
      const body = (await response.json()) as { id?: string; videos?: { id: string }[] };
      const stand = <T extends { id?: string }>(video: T) => ({
        ...video,
        ...(video.id === undefined ? {} : standings.get(video.id)),
      });
      const json = body.videos ? { ...body, videos: body.videos.map(stand) } : stand(body);
      await route.fulfill({ response, json });
    });
    try {
      await page.goto(stack.info().consoleUrl);
      const note = (id: string) => page.locator(`tr[data-job-id="${id}"] .standing`);
      await note(waiting).waitFor(WAIT);
      // \s: the durations' spaces are no-break ones.
      expect(await note(waiting).textContent()).toMatch(/^#3 in line, done in ~2\smin$/);
      expect(await note(unknown).textContent()).toBe('#4 in line');
      expect(await note(running).textContent()).toMatch(/^done in ~40\ss$/);
      // A job the API says nothing of, or has ended, shows nothing more than its status.
      expect(await page.locator('tr[data-status="COMPLETED"] .standing').count()).toBe(0);
      expect(await page.locator('tbody').textContent()).not.toMatch(/null|undefined|NaN/);

      await page.goto(`${new URL(stack.info().consoleUrl).origin}/#/videos/${waiting}`);
      const facts = page.locator('dl.facts');
      await facts.getByText('Place in line').waitFor(WAIT);
      expect(await page.locator('.status-line .standing').textContent()).toMatch(
        /^#3 in line, done in ~2\smin$/,
      );
      const factText = async () => ((await facts.textContent()) ?? '').replaceAll('\u00a0', ' ');
      expect(await factText()).toContain('Priorityhigh');
      expect(await factText()).toContain('Start timeout10 min (cancelled if not started by then)');
      expect(await factText()).toContain('Place in line#3 in line');
      expect(await factText()).toContain('Expected donein ~2 min');
      expect(await factText()).not.toContain('Started');
      expect(await axeViolations(page)).toEqual([]);

      // The next jobs admitted: the page moves it up without being reloaded.
      standings.set(waiting, {
        priority: 'high',
        startTimeoutSeconds: 600,
        queue: { position: 2, etaSeconds: 70 },
      });
      await expect
        .poll(() => page.locator('.status-line .standing').textContent(), WAIT)
        .toMatch(/^#2 in line, done in ~1\smin$/);
      expect(await factText()).toContain('Place in line#2 in line');

      await page.goto(`${new URL(stack.info().consoleUrl).origin}/#/videos/${running}`);
      await page.locator('.prompt-text', { hasText: 'A tram at night' }).waitFor(WAIT);
      await facts.getByText('Expected done').waitFor(WAIT);
      expect(await page.locator('.status-line .standing').textContent()).toMatch(
        /^done in ~40\ss$/,
      );
      expect(await factText()).toContain('Prioritynormal');
      expect(await factText()).toContain('Expected donein ~40 s');
      expect(await factText()).toMatch(/Started\w/);
      expect(await factText()).not.toContain('Place in line');

      // Unknown: no ETA shown, no "null".
      standings.set(running, { etaSeconds: null });
      await expect.poll(() => page.locator('.status-line .standing').count(), WAIT).toBe(0);
      expect(await factText()).not.toMatch(/Expected done|null/);
    } finally {
      // Waits for a handler still answering (a request the page made as the test ended).
      await page.unrouteAll({ behavior: 'wait' });
      await fetch(`${stack.apiUrl}/videos/${running}/cancel`, {
        method: 'POST',
        headers: stack.headers,
      });
    }
  });
});

async function boxOf(
  locator: Locator,
): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await locator.boundingBox();
  if (!box) throw new Error(`${locator} is not shown`);
  return box;
}

/** In the page: the element's computed cursor. */
function cursorOf(element: unknown): string {
  const { getComputedStyle } = globalThis as unknown as {
    getComputedStyle(element: unknown): { cursor: string };
  };
  return getComputedStyle(element).cursor;
}

/** In the page: whether the element has the focus. */
function isFocused(element: unknown): boolean {
  const { document } = globalThis as unknown as { document: { activeElement: unknown } };
  return document.activeElement === element;
}

/** How many pixels the page is wider than its viewport (0 or less: no sideways scrolling). */
function horizontalOverflow(target: Page): Promise<number> {
  return target.evaluate(() => {
    const { document } = globalThis as unknown as {
      document: { documentElement: { scrollWidth: number; clientWidth: number } };
    };
    return document.documentElement.scrollWidth - document.documentElement.clientWidth;
  });
}
