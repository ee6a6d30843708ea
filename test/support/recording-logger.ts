import type { ApiLogger } from '../../functions/api/api-handler.ts';

/** A logger that keeps every line (level, message, extra input, keys at the time) for assertions. */
export function recordingLogger() {
  const lines: {
    level: string;
    message: string;
    extra: unknown[];
    keys: Record<string, unknown>;
  }[] = [];
  let keys: Record<string, unknown> = {};
  const record =
    (level: string) =>
    (message: unknown, ...extra: unknown[]) => {
      lines.push({ level, message: String(message), extra, keys: { ...keys } });
    };
  const logger: ApiLogger = {
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    appendKeys: (attributes) => {
      keys = { ...keys, ...attributes };
    },
    resetKeys: () => {
      keys = {};
    },
    addContext: () => {},
  };
  /** Everything logged, as one string, to search for what must never be there. */
  const text = () =>
    JSON.stringify(lines, (_key, value) =>
      value instanceof Error
        ? { name: value.name, message: value.message, stack: value.stack }
        : value,
    );
  return { logger, lines, text };
}
