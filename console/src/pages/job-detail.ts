import { ApiError, type PublicJob } from '../api-client.ts';
import { type AppContext, pageTitle } from '../app-context.ts';
import { confirmBefore } from '../confirm.ts';
import { contentLink } from '../content-links.ts';
import { announce, h, replaceChildren } from '../dom.ts';
import { explainError } from '../error-help.ts';
import {
  bytes,
  dateTime,
  duration,
  eta,
  isActive,
  placeInLine,
  standingText,
  statusLabel,
  usd,
} from '../format.ts';
import { spritesheetScrubber } from '../scrubber.ts';
import { LIVE_INTERVAL_MS, progressBar, standingNote, statusBadge } from './job-list.ts';

const CANCEL_ROUTE = 'POST /videos/{id}/cancel';
const REMIX_ROUTE = 'POST /videos/{id}/remix';

/** One job: player and scrubber, its facts, its error explained, cancel, remix and download. */
export async function renderJobDetail(context: AppContext, id: string | undefined): Promise<void> {
  pageTitle('Video job');
  if (!id) throw new Error('No job id in the address');
  let job: PublicJob;
  try {
    job = await context.api.getJob(id);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replaceChildren(
        context.main,
        h('h1', {}, 'Job not found'),
        h(
          'p',
          {},
          `There is no job ${id} for this token. `,
          h('a', { href: '#/' }, 'Back to the jobs'),
        ),
      );
      return;
    }
    throw error;
  }
  if (!context.isCurrent()) return;
  // A cancel renders the page again at once, with what it did (focused, so it is read out).
  const onCancelled = (cancelled: PublicJob, outcome: string) => {
    job = cancelled;
    void show(context, job, { onCancelled, notice: outcome });
  };
  await show(context, job, { onCancelled });

  // While the job can change, read it again; a new status renders the page again.
  let timer: number | undefined;
  const refresh = async () => {
    try {
      const again = await context.api.getJob(job.id);
      if (!context.isCurrent()) return;
      if (again.status !== job.status) {
        announce(`The job is now ${statusLabel(again.status)}.`);
        job = again;
        await show(context, job, { onCancelled });
      } else {
        const moved = standingText(again) !== standingText(job);
        job = again;
        const bar = progressBar(job);
        if (bar) context.main.querySelector('.status-line progress')?.replaceWith(bar);
        const percent = context.main.querySelector('.status-line .percent');
        if (percent) percent.textContent = ` ${job.progress}%`;
        // Its place in line and ETA move while the status stays. Only then are the facts drawn
        // again: a redraw would drop a selection (the id being copied).
        if (moved) {
          context.main.querySelector('.status-line .standing')?.remove();
          const note = standingNote(job);
          if (note) context.main.querySelector('.status-line')?.append(note);
          context.main.querySelector('.facts-section')?.replaceWith(facts(job));
        }
      }
    } catch {
      // keep the page as it is and try again
    }
    if (context.isCurrent() && isActive(job.status)) {
      timer = window.setTimeout(refresh, LIVE_INTERVAL_MS);
    }
  };
  if (isActive(job.status)) timer = window.setTimeout(refresh, LIVE_INTERVAL_MS);
  context.onLeave(() => window.clearTimeout(timer));
}

interface ShowOptions {
  onCancelled: (cancelled: PublicJob, outcome: string) => void;
  /** What the last action did ("Cancelled."), shown once under the status. */
  notice?: string;
}

async function show(context: AppContext, job: PublicJob, options: ShowOptions): Promise<void> {
  const sections: HTMLElement[] = [];
  if (job.status === 'COMPLETED' && job.video) {
    // A link the API cannot give (the file gone, a network error) leaves the rest of the page.
    sections.push(
      await player(context, job).catch((error: unknown) =>
        h(
          'p',
          { role: 'alert', class: 'field-error' },
          `The video could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
        ),
      ),
    );
  }
  if (job.error) sections.push(errorExplanation(job.error));
  if (!context.isCurrent()) return;
  const notice = options.notice
    ? h('p', { class: 'notice', id: 'job-notice', tabindex: -1 }, options.notice)
    : null;
  replaceChildren(
    context.main,
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/' }, '← All jobs')),
    h('h1', {}, 'Video job'),
    h('blockquote', { class: 'prompt-text' }, job.prompt),
    statusLine(job),
    notice,
    sections,
    actions(context, job, options.onCancelled),
    facts(job),
  );
  // The button that was pressed is gone: focus goes to what it did.
  notice?.focus();
}

function statusLine(job: PublicJob): HTMLElement {
  const bar = progressBar(job);
  const percent = job.status === 'COMPLETED' ? 100 : job.progress;
  return h(
    'p',
    { class: 'status-line' },
    statusBadge(job),
    bar ? [' ', bar, h('span', { class: 'percent' }, ` ${percent}%`)] : null,
    standingNote(job),
  );
}

async function player(context: AppContext, job: PublicJob): Promise<HTMLElement> {
  const variants = job.video?.variants ?? [];
  const [videoUrl, posterUrl, sheetUrl] = await Promise.all([
    contentLink(context.api, job.id, 'video'),
    // Previews are extras: without them the player still plays.
    variants.includes('thumbnail')
      ? contentLink(context.api, job.id, 'thumbnail').catch(() => undefined)
      : undefined,
    variants.includes('spritesheet')
      ? contentLink(context.api, job.id, 'spritesheet').catch(() => undefined)
      : undefined,
  ]);
  const video = h('video', {
    controls: true,
    preload: 'metadata',
    playsinline: true,
    src: videoUrl,
    poster: posterUrl,
    'aria-label': 'Generated video',
  });
  const section = h(
    'section',
    { class: 'player', 'aria-labelledby': 'player-heading' },
    h('h2', { id: 'player-heading', class: 'visually-hidden' }, 'Video'),
    video,
  );
  if (sheetUrl) {
    const [width, height] = job.size.split('x').map(Number);
    const placeholder = h('div', { class: 'scrubber-slot' });
    section.append(placeholder);
    // The sheet's frames have the video's own aspect ratio, known once its metadata is read.
    const place = () => {
      const aspect =
        video.videoWidth > 0 && video.videoHeight > 0
          ? video.videoWidth / video.videoHeight
          : (width ?? 16) / (height ?? 9);
      placeholder.replaceWith(spritesheetScrubber(sheetUrl, video, aspect));
    };
    if (video.readyState >= 1) place();
    else video.addEventListener('loadedmetadata', place, { once: true });
  }
  section.append(
    h(
      'p',
      {},
      h('a', { href: videoUrl, class: 'button', download: `${job.id}.mp4` }, 'Download MP4'),
      ' ',
      h(
        'span',
        { class: 'hint' },
        'The link is valid for five minutes; reload the page for a new one.',
      ),
    ),
  );
  return section;
}

function errorExplanation(error: NonNullable<PublicJob['error']>): HTMLElement {
  const help = explainError(error);
  return h(
    'section',
    { class: 'error-box', role: 'region', 'aria-labelledby': 'error-heading' },
    h('h2', { id: 'error-heading' }, 'Why it failed'),
    h('p', {}, h('code', {}, error.code), ': ', error.message),
    h('p', {}, help.meaning),
    // The advice once: whether to try again is part of it (error-help.ts).
    h('p', {}, h('strong', {}, 'What to do: '), help.action),
  );
}

function actions(
  context: AppContext,
  job: PublicJob,
  onCancelled: ShowOptions['onCancelled'],
): HTMLElement {
  const routes = context.config.routes ?? [];
  const section = h(
    'section',
    { class: 'actions', 'aria-labelledby': 'actions-heading' },
    h('h2', { id: 'actions-heading' }, 'Actions'),
  );
  const message = h('p', { class: 'field-error', role: 'alert' });
  if (routes.includes(CANCEL_ROUTE) && isActive(job.status)) {
    const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel job');
    cancel.addEventListener('click', () => {
      message.textContent = '';
      confirmBefore(cancel, {
        question: cancelQuestion(job),
        confirm: 'Yes, cancel the job',
        keep: 'No, keep it',
        run: () =>
          context.api.cancel(job.id).then(
            (cancelled) => {
              onCancelled(cancelled, cancelOutcome(job));
              return 'done' as const;
            },
            (error: unknown) => {
              message.textContent = error instanceof Error ? error.message : String(error);
              throw error;
            },
          ),
      });
    });
    section.append(cancel);
  }
  if (routes.includes(REMIX_ROUTE) && job.status === 'COMPLETED') {
    section.append(remixForm(context, job, message));
  }
  section.append(
    h(
      'p',
      {},
      h('a', { href: `#/submit?from=${encodeURIComponent(job.id)}` }, 'New video with this prompt'),
    ),
    message,
  );
  return section;
}

/**
 * What cancelling costs, said before it is done: a job at the provider is spent (the provider
 * may charge for a render it started), a waiting one costs nothing.
 */
function cancelQuestion(job: PublicJob): string {
  return job.status === 'IN_PROGRESS'
    ? `This job is rendering: cancelling it still costs ${usd(job.estimatedCostUsd)}, counted on today’s budget. Cancel it?`
    : 'Cancel this waiting job? It has not started, so nothing is spent.';
}

function cancelOutcome(job: PublicJob): string {
  return job.status === 'IN_PROGRESS'
    ? `Cancelled. The render had started: ${usd(job.estimatedCostUsd)} is counted as spent.`
    : 'Cancelled. Nothing was spent.';
}

function remixForm(context: AppContext, job: PublicJob, message: HTMLElement): HTMLElement {
  const prompt = h('textarea', { id: 'remix-prompt', name: 'prompt', rows: 2, required: true });
  const idempotencyKey = crypto.randomUUID();
  const form = h(
    'form',
    { class: 'remix' },
    h('label', { for: 'remix-prompt' }, 'Remix: describe the change'),
    prompt,
    h('button', { type: 'submit' }, 'Remix'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!prompt.value.trim()) {
      message.textContent = 'Describe the change for the remix.';
      prompt.focus();
      return;
    }
    context.api.remix(job.id, prompt.value.trim(), idempotencyKey).then(
      (remix) => context.navigate(`#/videos/${encodeURIComponent(remix.id)}`),
      (error: unknown) => {
        message.textContent = error instanceof Error ? error.message : String(error);
      },
    );
  });
  return form;
}

function facts(job: PublicJob): HTMLElement {
  // Absent facts are left out: a row says something only when the API gives it.
  const optional = (term: string, value: string | undefined): [string, string][] =>
    value ? [[term, value]] : [];
  const rows: [string, string | HTMLElement][] = [
    ['Id', h('code', {}, job.id)],
    ['Status', statusLabel(job.status)],
    ...optional('Place in line', placeInLine(job)),
    ...optional('Expected done', eta(job) && `in ${eta(job)}`),
    ['Model', job.model],
    ['Size', job.size],
    ['Seconds', job.seconds],
    ['Estimated cost', usd(job.estimatedCostUsd)],
    ['Source', job.source],
    ['Priority', job.priority ?? 'normal'],
    ...optional(
      'Start timeout',
      job.startTimeoutSeconds === undefined
        ? undefined
        : `${duration(job.startTimeoutSeconds)} (cancelled if not started by then)`,
    ),
    ['Created', dateTime(job.createdAt)],
    ...optional('Started', job.startedAt && dateTime(job.startedAt)),
    ['Updated', dateTime(job.updatedAt)],
  ];
  rows.push(['Client', job.client]);
  if (job.batchId)
    rows.push([
      'Batch',
      h('a', { href: `#/?batch=${encodeURIComponent(job.batchId)}` }, job.batchId),
    ]);
  if (job.remixOf)
    rows.push([
      'Remix of',
      h('a', { href: `#/videos/${encodeURIComponent(job.remixOf)}` }, job.remixOf),
    ]);
  if (job.deferred) rows.push(['Waiting for', job.deferredReason ?? 'a scheduled run']);
  if (job.completedAt) rows.push(['Completed', dateTime(job.completedAt)]);
  if (job.video) {
    rows.push(['File size', bytes(job.video.bytes)]);
    rows.push(['SHA-256', h('code', { class: 'hash' }, job.video.sha256)]);
  }
  return h(
    'section',
    { class: 'facts-section', 'aria-labelledby': 'facts-heading' },
    h('h2', { id: 'facts-heading' }, 'Details'),
    h(
      'dl',
      { class: 'facts' },
      rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
  );
}
