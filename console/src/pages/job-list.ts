import { JOB_STATUSES } from '../../../functions/shared/jobs/job-status.ts';
import type { JobPage, PublicJob } from '../api-client.ts';
import { type AppContext, pageTitle } from '../app-context.ts';
import { confirmBefore } from '../confirm.ts';
import { contentLink } from '../content-links.ts';
import { announce, h, replaceChildren } from '../dom.ts';
import { age, isActive, shorten, standingText, statusLabel, usd } from '../format.ts';
import { readJobPage } from '../job-pages.ts';

/** How often the list is read again while a job on it is waiting or running. */
export const LIVE_INTERVAL_MS = 2000;
const PAGE_SIZE = 20;

// Cursors of the pages before the current one, for "Previous page".
let previousCursors: string[] = [];
let lastFilters = '';

/** The job list: filters by status and batch, paging, live progress while jobs run. */
export async function renderJobList(
  context: AppContext,
  _parameter: string | undefined,
  query: URLSearchParams,
): Promise<void> {
  pageTitle('Jobs');
  const status = query.get('status') ?? '';
  const batch = query.get('batch') ?? '';
  const cursor = query.get('cursor') ?? '';
  const filters = `${status}|${batch}`;
  if (filters !== lastFilters || !cursor) previousCursors = [];
  lastFilters = filters;

  const page = await readJobPage(context.api, { status, batch, cursor, limit: PAGE_SIZE });
  if (!context.isCurrent()) return;

  const rows = new Map<string, HTMLTableRowElement>();
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'jobs' },
    h('caption', { class: 'visually-hidden' }, 'Video jobs, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Preview', 'Prompt', 'Status', 'Progress', 'Model', 'Size', 'Seconds', 'Cost', 'Age'].map(
          (title) => h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    body,
  );
  const showPage = (jobs: PublicJob[]) => {
    const sameRows = jobs.length === rows.size && jobs.every((job) => rows.has(job.id));
    if (!sameRows) {
      rows.clear();
      replaceChildren(
        body,
        jobs.map((job) => rememberRow(rows, job, context)),
      );
      return;
    }
    for (const job of jobs) {
      const row = rows.get(job.id);
      if (row && row.dataset.version !== version(job)) {
        if (row.dataset.status !== job.status && !isActive(job.status)) {
          announce(`Job “${shorten(job.prompt, 40)}” ${statusLabel(job.status)}.`);
        }
        row.replaceWith(rememberRow(rows, job, context));
      }
    }
  };
  showPage(page.videos);

  const empty = h(
    'p',
    { class: 'empty', hidden: page.videos.length > 0 },
    status || batch ? 'No job matches these filters.' : 'No jobs yet. ',
    status || batch ? null : h('a', { href: '#/submit' }, 'Generate your first video'),
  );

  replaceChildren(
    context.main,
    h('h1', {}, 'Jobs'),
    filterForm(context, status, batch),
    batch
      ? batchActions(context, batch, () => {
          window.clearTimeout(timer);
          void refresh();
        })
      : null,
    h('div', { class: 'table-scroll' }, table),
    empty,
    pager(context, page, status, batch, cursor),
  );

  // Live updates: the same page again every few seconds while any job on it can still change.
  let timer: number | undefined;
  const refresh = async () => {
    timer = undefined;
    try {
      const again: JobPage = await readJobPage(context.api, {
        status,
        batch,
        cursor,
        limit: PAGE_SIZE,
      });
      if (!context.isCurrent()) return;
      showPage(again.videos);
      empty.hidden = again.videos.length > 0;
      schedule(again.videos);
    } catch {
      if (context.isCurrent()) timer = window.setTimeout(refresh, LIVE_INTERVAL_MS * 2);
    }
  };
  const schedule = (jobs: PublicJob[]) => {
    if (jobs.some((job) => isActive(job.status))) {
      timer = window.setTimeout(refresh, LIVE_INTERVAL_MS);
    }
  };
  schedule(page.videos);
  context.onLeave(() => window.clearTimeout(timer));
}

const BATCH_CANCEL_ROUTE = 'POST /batches/{id}/cancel';

/**
 * With a batch filter: cancel the batch's waiting jobs, where the API offers it. It says how many
 * first and asks; then it says how many it cancelled, and the button goes unless more wait.
 */
function batchActions(
  context: AppContext,
  batch: string,
  onCancelled: () => void,
): HTMLElement | null {
  if (!(context.config.routes ?? []).includes(BATCH_CANCEL_ROUTE)) return null;
  const result = h('p', { role: 'status', class: 'notice', tabindex: -1 });
  const button = h(
    'button',
    { type: 'button', class: 'danger' },
    'Cancel the waiting jobs of this batch',
  );
  const showError = (error: unknown) => {
    result.textContent = error instanceof Error ? error.message : String(error);
  };
  const rethrowShown = (error: unknown): never => {
    showError(error);
    throw error;
  };
  button.addEventListener('click', () => {
    result.textContent = '';
    button.disabled = true;
    // The API cancels at most 100 a call: count as many.
    readJobPage(context.api, { batch, status: 'QUEUED', limit: 100 }).then(
      (waiting) => {
        button.disabled = false;
        const count = `${waiting.videos.length}${waiting.nextCursor ? '+' : ''}`;
        if (waiting.videos.length === 0) {
          button.remove();
          result.textContent = `No job of batch ${batch} is waiting: nothing to cancel.`;
          result.focus();
          return;
        }
        const jobs = waiting.videos.length === 1 ? 'job' : 'jobs';
        confirmBefore(button, {
          question: `Cancel ${count} waiting ${jobs} of batch ${batch}? Nothing has been spent on them; jobs already rendering go on.`,
          confirm: `Yes, cancel ${count} ${jobs}`,
          keep: 'No, keep them',
          run: () =>
            context.api.cancelBatch(batch).then((answer) => {
              result.textContent = answer.more
                ? `${answer.cancelled.length} cancelled; more are waiting: cancel again.`
                : `${answer.cancelled.length} cancelled.`;
              onCancelled();
              if (!answer.more) result.focus();
              return answer.more ? 'again' : 'done';
            }, rethrowShown),
        });
      },
      (error: unknown) => {
        button.disabled = false;
        showError(error);
      },
    );
  });
  return h('div', { class: 'batch-actions' }, button, result);
}

// Where a job stands moves without the job changing (others ahead of it admitted, time passing).
const version = (job: PublicJob) =>
  `${job.status} ${job.progress} ${job.updatedAt} ${standingText(job)}`;

function rememberRow(
  rows: Map<string, HTMLTableRowElement>,
  job: PublicJob,
  context: AppContext,
): HTMLTableRowElement {
  const row = jobRow(job, context);
  rows.set(job.id, row);
  return row;
}

function jobRow(job: PublicJob, context: AppContext): HTMLTableRowElement {
  const preview = h('td', { class: 'preview' });
  if (job.video?.variants.includes('thumbnail')) {
    const image = h('img', { alt: '', width: 64, height: 36, loading: 'lazy' });
    preview.append(image);
    void contentLink(context.api, job.id, 'thumbnail').then(
      (url) => {
        image.src = url;
      },
      () => image.remove(),
    );
  }
  const row = h(
    'tr',
    { 'data-job-id': job.id, 'data-status': job.status, 'data-version': version(job) },
    preview,
    h(
      'td',
      { class: 'prompt' },
      h('a', { href: `#/videos/${encodeURIComponent(job.id)}` }, shorten(job.prompt, 80)),
    ),
    h('td', {}, statusBadge(job), standingNote(job)),
    h('td', {}, progressBar(job)),
    // Short values that read wrong broken over two lines ("luma.ray-v2:" / "0", "5 min" / "ago").
    h('td', { 'data-label': 'Model', class: 'nowrap' }, job.model),
    h('td', { 'data-label': 'Size', class: 'nowrap' }, job.size),
    h('td', { 'data-label': 'Seconds' }, job.seconds),
    h('td', { 'data-label': 'Cost', class: 'nowrap' }, usd(job.estimatedCostUsd)),
    h(
      'td',
      { 'data-label': 'Age', class: 'nowrap' },
      h('time', { datetime: job.createdAt }, age(job.createdAt)),
    ),
  );
  return row;
}

export function statusBadge(job: PublicJob): HTMLElement {
  return h('span', { class: `status status-${job.status.toLowerCase()}` }, statusLabel(job.status));
}

/**
 * Under a waiting job's status, its place in line and ETA; under a running job's, its ETA. Only
 * what the API gives: nothing when it knows no ETA (or, on a list, gives no standing).
 */
export function standingNote(job: PublicJob): HTMLElement | null {
  const text = standingText(job);
  return text ? h('span', { class: 'standing' }, text) : null;
}

/** How far a job got; none for a failed or cancelled job, whose last progress means nothing. */
export function progressBar(job: PublicJob): HTMLElement | null {
  if (!isActive(job.status) && job.status !== 'COMPLETED') return null;
  const value = job.status === 'COMPLETED' ? 100 : job.progress;
  return h(
    'progress',
    { max: 100, value, 'aria-label': `Progress of “${shorten(job.prompt, 40)}”` },
    `${value}%`,
  );
}

function filterForm(context: AppContext, status: string, batch: string): HTMLFormElement {
  const statusSelect = h(
    'select',
    { id: 'filter-status', name: 'status' },
    h('option', { value: '' }, 'Any status'),
    JOB_STATUSES.map((value) =>
      h('option', { value, selected: value === status }, statusLabel(value)),
    ),
  );
  const batchInput = h('input', {
    id: 'filter-batch',
    name: 'batch',
    value: batch,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Status'), statusSelect),
    h('div', { class: 'field' }, h('label', { for: 'filter-batch' }, 'Batch id'), batchInput),
    h('button', { type: 'submit' }, 'Apply filters'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (statusSelect.value) params.set('status', statusSelect.value);
    if (batchInput.value.trim()) params.set('batch', batchInput.value.trim());
    context.navigate(params.size > 0 ? `#/?${params}` : '#/');
  });
  return form;
}

function pager(
  context: AppContext,
  page: JobPage,
  status: string,
  batch: string,
  cursor: string,
): HTMLElement {
  const link = (nextCursor: string | undefined) => {
    const params = new URLSearchParams();
    if (status) params.set('status', status);
    if (batch) params.set('batch', batch);
    if (nextCursor) params.set('cursor', nextCursor);
    return params.size > 0 ? `#/?${params}` : '#/';
  };
  const previous = h('button', { type: 'button', disabled: !cursor }, 'Previous page');
  previous.addEventListener('click', () => {
    const before = previousCursors.pop();
    context.navigate(link(before));
  });
  const next = h('button', { type: 'button', disabled: !page.nextCursor }, 'Next page');
  next.addEventListener('click', () => {
    if (!page.nextCursor) return;
    previousCursors.push(cursor);
    context.navigate(link(page.nextCursor));
  });
  return h('nav', { class: 'pager', 'aria-label': 'Pages' }, previous, next);
}
