import type { PublicJob, UsageReport } from '../api-client.ts';
import { type AppContext, pageTitle } from '../app-context.ts';
import { h, replaceChildren } from '../dom.ts';
import { age, shorten, usd } from '../format.ts';
import { readJobPage } from '../job-pages.ts';
import { LIVE_INTERVAL_MS, progressBar } from './job-list.ts';

/** Today's spend against the budget, the concurrency slots, and the jobs waiting and running. */
export async function renderUsage(context: AppContext): Promise<void> {
  pageTitle('Usage');
  let timer: number | undefined;
  context.onLeave(() => window.clearTimeout(timer));

  const load = async () => {
    const [usage, waiting, running] = await Promise.all([
      context.api.usage(),
      readJobPage(context.api, { status: 'QUEUED', limit: 100 }),
      readJobPage(context.api, { status: 'IN_PROGRESS', limit: 100 }),
    ]);
    if (!context.isCurrent()) return;
    const { budget, concurrency } = usage;
    const share = usage.client;
    const spent = budget.spentUsd + budget.reservedUsd + budget.orphanedUsd;
    const meter =
      budget.limitUsd === null
        ? h('p', {}, 'No daily budget is set: spending is recorded but not limited.')
        : h(
            'div',
            { class: 'field' },
            h(
              'label',
              { for: 'budget-meter' },
              `Spent and reserved: ${usd(spent)} of ${usd(budget.limitUsd)}`,
            ),
            h('meter', {
              id: 'budget-meter',
              min: 0,
              max: budget.limitUsd,
              value: Math.min(spent, budget.limitUsd),
              high: budget.limitUsd * 0.8,
              optimum: 0,
            }),
          );
    replaceChildren(
      context.main,
      h('h1', {}, 'Usage'),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'today-heading' },
        h('h2', { id: 'today-heading' }, `Today (UTC ${usage.day})`),
        meter,
        h(
          'dl',
          { class: 'facts' },
          [
            ['Spent (rendered)', usd(budget.spentUsd)],
            ['Reserved (running)', usd(budget.reservedUsd)],
            ['Orphaned provider jobs', usd(budget.orphanedUsd)],
            ['Remaining', budget.remainingUsd === null ? 'no limit' : usd(budget.remainingUsd)],
            ['Concurrency slots in use', `${concurrency.inUse} of ${concurrency.limit}`],
            ['Jobs started today', String(usage.jobs.started)],
            ['Jobs completed today', String(usage.jobs.completed)],
          ].map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
        ),
      ),
      share ? clientShare(share) : null,
      jobSection(
        'running',
        `Running (${countLabel(running.videos, running.nextCursor)})`,
        running.videos,
      ),
      jobSection(
        'waiting',
        `Waiting (${countLabel(waiting.videos, waiting.nextCursor)})`,
        waiting.videos,
      ),
    );
    if (waiting.videos.length + running.videos.length > 0) {
      timer = window.setTimeout(() => void load().catch(() => {}), LIVE_INTERVAL_MS);
    }
  };
  await load();
}

/** The caller's own part of the day (`GET /usage` answers it where the API has clients). */
type ClientShare = NonNullable<UsageReport['client']>;

function clientShare(share: ClientShare): HTMLElement {
  const rows: [string, string][] = [
    ['Spent', usd(share.spentUsd)],
    ['Reserved', usd(share.reservedUsd)],
    ['Own daily budget', clientBudgetText(share.client, share.budget)],
    ['Jobs submitted', String(share.jobs.submitted)],
    ['Completed', String(share.jobs.completed)],
    ['Failed', String(share.jobs.failed)],
    ['Cancelled', String(share.jobs.cancelled)],
  ];
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'share-heading' },
    h('h2', { id: 'share-heading' }, `Your share today (client ${share.client})`),
    h(
      'dl',
      { class: 'facts' },
      rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
    share.truncated ? h('p', { class: 'hint' }, 'Counted from your newest 2,000 jobs.') : null,
  );
}

/** "<client>: $spent of $limit (reserved $r)": its part of the day's budget, against its own. */
function clientBudgetText(client: string, budget: ClientShare['budget']): string {
  const reserved = `(reserved ${usd(budget.reservedUsd)})`;
  if (budget.limitUsd === null) {
    return `${client}: ${usd(budget.spentUsd)} ${reserved}, none set`;
  }
  const left = budget.remainingUsd === null ? '' : `, ${usd(budget.remainingUsd)} left`;
  return `${client}: ${usd(budget.spentUsd)} of ${usd(budget.limitUsd)} ${reserved}${left}`;
}

const countLabel = (jobs: PublicJob[], next: string | null) => `${jobs.length}${next ? '+' : ''}`;

function jobSection(id: string, title: string, jobs: PublicJob[]): HTMLElement {
  return h(
    'section',
    { 'aria-labelledby': `${id}-heading` },
    h('h2', { id: `${id}-heading` }, title),
    jobs.length === 0
      ? h('p', { class: 'hint' }, 'None.')
      : h(
          'ul',
          { class: 'job-lines' },
          jobs.map((job) =>
            h(
              'li',
              {},
              h('a', { href: `#/videos/${encodeURIComponent(job.id)}` }, shorten(job.prompt, 60)),
              ' ',
              progressBar(job),
              h(
                'span',
                { class: 'hint' },
                ` ${job.model}, ${job.seconds} s, ${usd(job.estimatedCostUsd)}, ${age(job.createdAt)}${job.deferredReason ? `, waits for ${job.deferredReason}` : ''}`,
              ),
            ),
          ),
        ),
  );
}
