// What the CLI's commands print, as pure functions of the API's answers (tested without a stack).
// The lines are raw: cli.ts escapes each one (printable) as it prints it.

import type { PublicModelCatalogue } from '../../functions/api/model-catalogue.ts';
import { shortStandingText, standingText } from '../local/standing-text.ts';
import { printable } from '../local/terminal-text.ts';
import type { Video } from './api-client.ts';

/** `get`: one video, where it stands (place in line, ETA) under its status. */
export function videoLines(video: Video): string[] {
  const fact = (label: string, value: string) => `  ${label.padEnd(8)} ${value}`;
  const lines = [`${video.id}  ${video.status}  ${video.progress}%`];
  const standing = standingText(video);
  if (standing) lines.push(fact(video.queue ? 'queued' : 'running', standing));
  lines.push(
    fact('prompt', video.prompt),
    fact('model', `${video.model} ${video.size} ${video.seconds}s`),
  );
  // Normal is what nearly every job has: only a different one is worth a line.
  if (video.priority && video.priority !== 'normal') lines.push(fact('priority', video.priority));
  lines.push(fact('client', video.client), fact('created', video.createdAt));
  if (video.startedAt) lines.push(fact('started', video.startedAt));
  else if (video.status === 'QUEUED' && video.startTimeoutSeconds !== undefined) {
    lines.push(fact('timeout', startDeadline(video.createdAt, video.startTimeoutSeconds)));
  }
  if (video.batchId) lines.push(fact('batch', video.batchId));
  if (video.remixOf) lines.push(fact('remix of', video.remixOf));
  if (video.video)
    lines.push(fact('video', `${video.video.bytes} bytes, sha256 ${video.video.sha256}`));
  if (video.error) lines.push(fact('error', `${video.error.code}: ${video.error.message}`));
  return lines;
}

/** When a waiting job is cancelled unless admitted: its submission plus its start timeout. */
function startDeadline(createdAt: string, timeoutSeconds: number): string {
  const created = Date.parse(createdAt);
  return Number.isNaN(created)
    ? `cancelled unless started within ${timeoutSeconds} s`
    : `cancelled unless started by ${new Date(created + timeoutSeconds * 1000).toISOString()} (${timeoutSeconds} s)`;
}

/**
 * The rows of `list`, header first; cells escaped before they are measured and padded. A waiting
 * or running job's status carries its place in line and ETA when the API gives them ("QUEUED #3
 * ~2m", "IN_PROGRESS ~40s").
 */
export function videoTable(videos: readonly Video[]): string[] {
  const rows = [
    ['ID', 'STATUS', '%', 'MODEL', 'SIZE', 'SEC', 'CREATED', 'PROMPT'],
    ...videos.map((video) =>
      [
        video.id,
        [video.status, shortStandingText(video)].filter(Boolean).join(' '),
        String(video.progress),
        video.model,
        video.size,
        video.seconds,
        video.createdAt.slice(0, 19).replace('T', ' '),
        // Its first 40 characters, escaped (the cell is longer when it holds escapes).
        clip(video.prompt, 40),
      ].map(printable),
    ),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** `text` cut to `length` characters (whole code points: an emoji is not split) with an ellipsis. */
function clip(text: string, length: number): string {
  const characters = [...text];
  return characters.length > length ? `${characters.slice(0, length - 1).join('')}…` : text;
}

/** GET /usage as the CLI reads it (the Usage schema of the OpenAPI document). */
export interface UsageReport {
  day: string;
  budget: {
    limitUsd: number | null;
    spentUsd: number;
    reservedUsd: number;
    orphanedUsd?: number;
    remainingUsd?: number | null;
  };
  concurrency: { limit: number; inUse: number };
  client?: {
    client: string;
    spentUsd: number;
    reservedUsd: number;
    jobs: { submitted: number; completed: number; failed: number; cancelled: number };
    /** Its part of the day's budget (absent from an API older than clients' own budgets). */
    budget?: ClientBudget;
  };
}

interface ClientBudget {
  limitUsd: number | null;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number | null;
}

const usd = (amount: number) => `$${amount.toFixed(2)}`;

/** `usage`: the day, the deployment's spending against its budget and slots, the caller's share. */
export function usageLines(usage: UsageReport): string[] {
  const { budget } = usage;
  const spending = [`spent ${usd(budget.spentUsd)}`, `reserved ${usd(budget.reservedUsd)}`];
  if (budget.orphanedUsd) spending.push(`orphaned ${usd(budget.orphanedUsd)}`);
  const limit =
    budget.limitUsd === null
      ? 'no daily budget'
      : `daily budget ${usd(budget.limitUsd)}${typeof budget.remainingUsd === 'number' ? `, ${usd(budget.remainingUsd)} left` : ''}`;
  const lines = [
    `${usage.day} (UTC)`,
    `  deployment  ${spending.join(', ')}; ${limit}; slots ${usage.concurrency.inUse}/${usage.concurrency.limit} in use`,
  ];
  if (usage.client) {
    const { jobs } = usage.client;
    lines.push(
      `  ${usage.client.client.padEnd(10)}  spent ${usd(usage.client.spentUsd)}, reserved ${usd(usage.client.reservedUsd)}; ${jobs.submitted} submitted, ${jobs.completed} completed, ${jobs.failed} failed, ${jobs.cancelled} cancelled`,
    );
    if (usage.client.budget) {
      lines.push(`  budget      ${clientBudgetText(usage.client.client, usage.client.budget)}`);
    }
  }
  return lines;
}

/** "<client>: $spent of $limit (reserved $r)": a client's part of the day's budget. */
function clientBudgetText(client: string, budget: ClientBudget): string {
  const reserved = `(reserved ${usd(budget.reservedUsd)})`;
  if (budget.limitUsd === null) {
    return `${client}: ${usd(budget.spentUsd)} ${reserved}, no daily budget of its own`;
  }
  const left = budget.remainingUsd === null ? '' : `, ${usd(budget.remainingUsd)} left`;
  return `${client}: ${usd(budget.spentUsd)} of ${usd(budget.limitUsd)} ${reserved}${left}`;
}

/** `npm run cli -- <words>` and the given flags (absent ones left out), as a shell reads it back. */
export function cliCommand(
  words: readonly string[],
  flags: Readonly<Record<string, string | undefined>> = {},
): string {
  const all = words.map(shellWord);
  for (const [name, value] of Object.entries(flags)) {
    if (value !== undefined) all.push(`--${name}`, shellWord(value));
  }
  return `npm run cli -- ${all.join(' ')}`;
}

/**
 * `list`'s hint for the next page: the same command, its filters, page size and client kept
 * (`flags`), from `cursor`.
 */
export function nextPageLine(
  flags: Readonly<Record<string, string | undefined>>,
  cursor: string,
): string {
  return `next page: ${cliCommand(['list'], { ...flags, cursor })}`;
}

/** A word a POSIX shell reads back as `value`: as it is when plain, else single-quoted. */
function shellWord(value: string): string {
  return /^[\w.,:/=@+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** GET /models as the CLI reads it: the API's own type (model-catalogue.ts). */
export type ModelCatalogue = PublicModelCatalogue;

/** A price per second: cents always, finer digits only when the price has them ($0.10, $0.125). */
const perSecond = (amount: number) => `$${amount.toFixed(4).replace(/0{1,2}$/, '')}`;

/** `models`: one block per model, the defaults marked, prices per second (by size when they differ). */
export function modelLines(catalogue: ModelCatalogue): string[] {
  const lines: string[] = [];
  for (const model of catalogue.models) {
    const marked = (values: string[], chosen: string) =>
      values.map((value) => (value === chosen ? `${value} (default)` : value)).join(', ');
    // Sizes priced alike are named together: "$0.50 at 1024x1792, 1792x1024".
    const bySize = new Map<number, string[]>();
    for (const [size, price] of Object.entries(model.pricePerSecondUsdBySize ?? {})) {
      bySize.set(price, [...(bySize.get(price) ?? []), size]);
    }
    const exceptions = [...bySize].map(
      ([price, sizes]) => `; ${perSecond(price)} at ${sizes.join(', ')}`,
    );
    lines.push(
      `${model.id}${model.id === catalogue.defaultModel ? ' (default model)' : ''}  ${model.provider}`,
      `  sizes    ${marked(model.sizes, model.defaultSize)}`,
      `  seconds  ${marked(model.seconds, model.defaultSeconds)}`,
      `  price    ${perSecond(model.pricePerSecondUsd)} per second${exceptions.join('')}`,
    );
  }
  return lines;
}
