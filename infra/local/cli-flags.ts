import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command line the parser refused, in words a user acts on (`unknown option --secnds (did you mean --seconds?)`). */
export class FlagError extends Error {
  override name = 'FlagError';
}

/**
 * `parseArgs` of node:util, its refusals rewritten: Node's own text quotes the flag with an
 * unclosed quote and explains `--` rather than the likely typo, so an unknown option names the
 * nearest known one, and a missing or unwanted value says which. Throws FlagError.
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new FlagError(flagErrorMessage(error, Object.keys(config.options ?? {})), {
      cause: error,
    });
  }
}

/** What to tell the user about a parseArgs error, given the command's long option names. */
export function flagErrorMessage(error: unknown, known: readonly string[]): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  // Node names the flag first, between single quotes ('--secnds', '-h, --help', '--size <value>').
  const quoted = /'([^']*)'/.exec(text)?.[1] ?? '';
  const flag = (quoted.split(/[ ,]+/).find((part) => part.startsWith('--')) ?? quoted).trim();
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const guess = flag.startsWith('--') ? closestOption(flag.slice(2), known) : undefined;
      return `unknown option ${flag} (${guess === undefined ? 'see --help' : `did you mean --${guess}?`})`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(text)) return `${flag} takes no value`;
      if (/ambiguous/.test(text)) {
        return `${flag} needs a value, not the option after it (write ${flag}=<value> for a value starting with -)`;
      }
      return `${flag} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}": this command takes options only (see --help)`;
    default:
      return text.split('\n')[0] ?? text;
  }
}

/**
 * The known option nearest to `typed` when it is near enough to be a typo: at most one edit in a
 * short name, two in a longer one (a swapped pair counts as one).
 */
export function closestOption(typed: string, known: readonly string[]): string | undefined {
  const allowed = typed.length <= 4 ? 1 : 2;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(typed.toLowerCase(), name.toLowerCase());
    if (distance <= allowed && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      const row = d[i];
      if (row) row[j] = distance;
    }
  }
  return at(a.length, b.length);
}
