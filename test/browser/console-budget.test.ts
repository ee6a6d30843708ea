import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { axeViolations, launchChromium } from './chromium.ts';

// The submit form and a failed job's help against a daily budget of $1.00 that refuses what it
// cannot cover (budget:overBudgetAction=reject): sora-2 costs $0.10 a second.
const WAIT = { timeout: 30_000 };

let stack: LocalStack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startLocalStack({
      dataDir: null,
      speed: 20,
      // Spending counts per UTC day: start far from midnight so the test stays within one.
      clockStartMs: lastNoonUtc(),
      context: { 'budget:dailyUsd': '1', 'budget:overBudgetAction': 'reject' },
      scheduleTimer: false,
      logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
    }),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const estimate = () => page.locator('#estimate').textContent();

async function openSubmit(): Promise<void> {
  await page.getByRole('link', { name: 'New video', exact: true }).click();
  await page.getByRole('heading', { name: 'New video' }).waitFor(WAIT);
}

describe('web console with a daily budget that rejects', () => {
  it('says a job dearer than the whole daily budget would fail at once, and one that fits what is left', async () => {
    await page.goto(stack.info().consoleUrl);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor(WAIT);
    await openSubmit();

    await page.getByLabel('Seconds').selectOption('12');
    await expect
      .poll(estimate, WAIT)
      .toContain(
        'Estimated cost $1.20 — more than the whole daily budget of $1.00: the job would fail at once',
      );
    await page.getByLabel('Seconds').selectOption('8');
    await expect.poll(estimate, WAIT).toBe('Estimated cost $0.80 of the $1.00 left today');
  });

  it("says a job over what is left would fail at once, and its failure does not advise the same day's resubmit", async () => {
    const spent = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...stack.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A heron in the reeds', seconds: '8' }),
    });
    const { id } = (await spent.json()) as { id: string };
    await expect
      .poll(async () => {
        const job = await fetch(`${stack.apiUrl}/videos/${id}`, { headers: stack.headers });
        return ((await job.json()) as { status: string }).status;
      }, WAIT)
      .toBe('COMPLETED');

    await openSubmit();
    await page.getByLabel('Seconds').selectOption('4');
    await expect
      .poll(estimate, WAIT)
      .toBe(
        'Estimated cost $0.40 — more than the $0.20 left today (UTC): this deployment refuses jobs over the budget, so it would fail at once (budget_exceeded).',
      );
    expect(await axeViolations(page)).toEqual([]);

    await page.getByLabel('Prompt').fill('A heron taking off');
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page.locator('.status-line .status', { hasText: 'failed' }).waitFor(WAIT);
    const help = page.getByRole('region', { name: 'Why it failed' });
    await expect.poll(() => help.textContent(), WAIT).toContain('budget_exceeded');
    const text = (await help.textContent()) ?? '';
    expect(text).not.toMatch(/same request again/i);
    expect(text).toContain('after the budget resets at 00:00 UTC');
  });

  it("says what a deployment that queues does with a job over what is left (from config.json's overBudgetAction)", async () => {
    await page.route('**/config.json', async (route) => {
      const response = await route.fetch();
      const config = (await response.json()) as Record<string, unknown>;
      expect(config.overBudgetAction).toBe('reject');
      await route.fulfill({ response, json: { ...config, overBudgetAction: 'queue' } });
    });
    try {
      await page.reload();
      await openSubmit();
      await page.getByLabel('Seconds').selectOption('4');
      await expect
        .poll(estimate, WAIT)
        .toBe(
          'Estimated cost $0.40 — more than the $0.20 left today (UTC): the job will wait, queued, for a later day whose budget covers it.',
        );
    } finally {
      await page.unroute('**/config.json');
    }
  });
});
