/**
 * `--client-settings`: each named client's share on the local stack (its weight, cap and daily
 * budget), as the tokens secret holds them on AWS. Checked at start with the secret's own schema,
 * each refusal naming the client and the field.
 */
import {
  type ClientShareSettings,
  clientShareSchema,
} from '../../functions/shared/admission/client-share.ts';
import { LocalStackError } from './local-errors.ts';

const FLAG = '--client-settings';
const FIELDS = Object.keys(clientShareSchema.shape);

/**
 * Parses `--client-settings '{"bob":{"maxConcurrent":2}}'` against the `--clients` names. Absent
 * or empty: no client has settings of its own.
 */
export function parseClientSettings(
  value: string | undefined,
  clientNames: readonly string[],
): Record<string, ClientShareSettings> {
  if (value === undefined || value.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw invalid(`is not JSON; write it as '{"bob":{"weight":1,"maxConcurrent":2}}'`);
  }
  return checkClientSettings(json, clientNames);
}

/**
 * Checks settings per client: an object keyed by names of `clientNames`, each entry of the share
 * schema (`weight`, `maxConcurrent`, `dailyBudgetUsd`). Throws LocalStackError `invalid-option`.
 */
export function checkClientSettings(
  settings: unknown,
  clientNames: readonly string[],
): Record<string, ClientShareSettings> {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw invalid(`must be an object of client names, e.g. '{"bob":{"maxConcurrent":2}}'`);
  }
  const checked: Record<string, ClientShareSettings> = {};
  for (const [name, entry] of Object.entries(settings)) {
    if (!clientNames.includes(name)) {
      const known = clientNames.length === 0 ? 'none named' : clientNames.join(', ');
      throw invalid(`"${name}" is not one of --clients (${known})`);
    }
    checked[name] = checkedEntry(name, entry);
  }
  return checked;
}

function checkedEntry(name: string, entry: unknown): ClientShareSettings {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw invalid(`${name} must be an object of ${FIELDS.join(', ')}`);
  }
  const result = clientShareSchema.safeParse(entry);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const unknown = issue.keys.map((key) => `"${key}"`).join(', ');
    throw invalid(`${name} has no setting ${unknown} (settings: ${FIELDS.join(', ')})`);
  }
  const field = issue?.path.map(String).join('.') ?? '';
  throw invalid(`${name}.${field} ${issue?.message ?? 'is not valid'}`);
}

/**
 * A client's cap must leave it below the stack's own limit: a higher one would never apply, which
 * is more likely a mistake than a wish.
 */
export function checkCapsWithin(
  settings: Readonly<Record<string, ClientShareSettings>>,
  maxConcurrentJobs: number,
): void {
  for (const [name, entry] of Object.entries(settings)) {
    if (entry.maxConcurrent !== undefined && entry.maxConcurrent > maxConcurrentJobs) {
      throw invalid(
        `${name}.maxConcurrent is ${entry.maxConcurrent}, above the stack's ${maxConcurrentJobs} jobs at once (limits:maxConcurrentJobs)`,
      );
    }
  }
}

function invalid(message: string): LocalStackError {
  return new LocalStackError('invalid-option', `${FLAG}: ${message}`);
}
