/**
 * What `npm start` prints once the stack is ready: where everything is, the limits and budget in
 * force, how to try it. A module of its own so it can be tested.
 */
import {
  type ClientShareSettings,
  DEFAULT_WEIGHT,
  shareOf,
} from '../../functions/shared/admission/client-share.ts';
import { CATCH_UP_RATE } from './local-clock.ts';
import type { LocalStackInfo, LocalStackLimits } from './local-stack.ts';

export interface StartBanner {
  info: LocalStackInfo;
  limits: LocalStackLimits;
  speed: number;
  /** Seconds the start took. */
  readySeconds: number;
  dataDir: string;
  stackInfoFile: string;
  /** A real provider (PROVIDER_BASE_URL) rather than the simulator. */
  realProvider: boolean;
  /** The named clients' share settings (`--client-settings`). */
  clientSettings?: Readonly<Record<string, ClientShareSettings>>;
  /** Extra lines under the endpoints (the clock catching up with the wall clock). */
  notes?: readonly string[];
}

export function startBanner(banner: StartBanner): string {
  const { info, speed } = banner;
  const token = info.headers.Authorization ?? '';
  const notes = (banner.notes ?? []).map((note) => `  ${note}\n`).join('');
  return `
Local stack ready in ${banner.readySeconds.toFixed(1)} s (speed x${speed}).

  API          ${info.apiUrl}
  Console      ${info.consoleUrl}
  Auth         header "Authorization: ${token}" (token kept in ${banner.dataDir}/api-token)
${clientLines(info)}${shareLines(banner.clientSettings ?? {})}
  Provider     ${banner.realProvider ? info.providerBaseUrl : `simulator at ${info.providerBaseUrl}`}
  S3           ${info.s3Endpoint}/${info.bucket}  (path-style, access key S3RVER/S3RVER)
  DynamoDB     ${info.dynamodbEndpoint}  table ${info.table}
${dropFolderLines(info)}  Facts        ${banner.stackInfoFile}

${limitsLines(banner.limits, speed)}${notes}
Try it:
  curl -s -X POST ${info.apiUrl}/videos \\
    -H 'Authorization: ${token}' -H 'Content-Type: application/json' \\
    -d '{"prompt":"A cat playing piano","seconds":"4"}'
  curl -s ${info.apiUrl}/videos/<id> -H 'Authorization: ${token}'
  curl -sL ${info.apiUrl}/videos/<id>/content -H 'Authorization: ${token}' -o video.mp4

Or: npm run generate -- "A cat playing piano"
${dropFolderExample(info)}Ctrl-C stops everything.
`;
}

/**
 * The limits and the budget in force, and where each is set: cdk.json's context, which the
 * synthesis reads as `cdk deploy` does (the client rate also with --client-rate).
 */
export function limitsLines(limits: LocalStackLimits, speed: number): string {
  const clock = speed === 1 ? '' : " (stack's clock)";
  const providerRate =
    limits.requestsPerMinute === 0
      ? 'provider requests not limited'
      : `${limits.requestsPerMinute} provider requests a minute${clock}`;
  let budget = 'none: spending is recorded, nothing is held back';
  if (limits.dailyBudgetUsd !== null) {
    const over =
      limits.overBudgetAction === 'queue'
        ? 'waits for a later day'
        : 'is refused (FAILED budget_exceeded)';
    budget = `$${limits.dailyBudgetUsd.toFixed(2)} a day (UTC); a job it cannot cover ${over}`;
  }
  const { requestsPerWindow, windowSeconds } = limits.clientRate;
  const clientRate =
    requestsPerWindow === 0
      ? 'not limited (--client-rate)'
      : `${requestsPerWindow} requests per ${windowSeconds} s per client${clock}, then 429 (--client-rate)`;
  return [
    `  Limits       ${limits.maxConcurrentJobs} jobs at the provider at once; ${providerRate}`,
    `  Budget       ${budget}`,
    `  Client rate  ${clientRate}`,
    "               (cdk.json's context sets limits:maxConcurrentJobs, limits:requestsPerMinute,",
    '               budget:dailyUsd and budget:overBudgetAction)',
  ]
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * The line for a clock at x1 that a faster run left ahead of the wall clock, catching up with it
 * (local-clock.ts): every timestamp shows the lead until then.
 */
export function clockCatchUpNote(
  catchUp: { aheadMs: number; meetsWallClockAtMs: number },
  wallNowMs: number,
): string {
  const at = new Date(catchUp.meetsWallClockAtMs).toISOString();
  const day = catchUp.meetsWallClockAtMs - wallNowMs > 12 * 3_600_000 ? `${at.slice(0, 10)} ` : '';
  return `Clock        ${duration(catchUp.aheadMs)} ahead of the wall clock, left by a faster run (npm run generate runs at x20): at x${CATCH_UP_RATE} until it meets the wall clock at ${day}${at.slice(11, 16)} UTC (--fresh starts at the wall clock)`;
}

function duration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The named clients' tokens (the admin sees every client's jobs). */
function clientLines(info: LocalStackInfo): string {
  return Object.entries(info.clients)
    .map(
      ([name, client]) =>
        `  Client       ${name}: "Authorization: ${client.headers.Authorization}"\n`,
    )
    .join('');
}

/** Each client's share when any is set: its weight, cap and budget, and what the others get. */
export function shareLines(settings: Readonly<Record<string, ClientShareSettings>>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return '';
  const lines = entries.map(([name, entry]) => {
    const share = shareOf(entry);
    const parts = [`weight ${share.weight}`];
    if (share.maxConcurrent !== undefined) {
      parts.push(
        `at most ${share.maxConcurrent} job${share.maxConcurrent === 1 ? '' : 's'} at once`,
      );
    }
    if (share.dailyBudgetUsd !== undefined) {
      parts.push(`$${share.dailyBudgetUsd.toFixed(2)} a day of its own`);
    }
    return `${name}: ${parts.join(', ')}`;
  });
  lines.push(`others: weight ${DEFAULT_WEIGHT}, no cap or budget of their own (--client-settings)`);
  return lines
    .map((line, i) => `${i === 0 ? '  Shares       ' : '               '}${line}\n`)
    .join('');
}

/** Where dropped prompt files start jobs, and how often the schedule runs here. */
function dropFolderLines(info: LocalStackInfo): string {
  const folders = info.dropFolders
    .map((folder) => `s3://${info.bucket}/${folder.prefix} (reports: ${folder.resultsPrefix})`)
    .join(', ');
  const lines = folders ? [`  Drop folder  ${folders}`] : [];
  if (info.schedule) {
    lines.push(
      `  Schedule     ${info.schedule.expression}: starts deferred jobs and sweeps every ${info.schedule.intervalSeconds.toFixed(1)} s here`,
    );
  }
  return lines.map((line) => `${line}\n`).join('');
}

function dropFolderExample(info: LocalStackInfo): string {
  const inbox = info.dropFolders[0];
  if (!inbox) return '';
  const objects = `${info.s3Endpoint}/${info.bucket}`;
  return `
Drop a file (.txt = one prompt, .json = one request, .jsonl = one request per line):
  curl -s -X PUT --data-binary @prompts.jsonl ${objects}/${inbox.prefix}prompts.jsonl
  curl -s ${objects}/${inbox.resultsPrefix}prompts.jsonl.json
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \\
    aws --endpoint-url ${info.s3Endpoint} s3 cp prompts.jsonl s3://${info.bucket}/${inbox.prefix}

`;
}
