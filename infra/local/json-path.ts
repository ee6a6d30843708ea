/**
 * The reference-path subset of JSONPath that Wait states use (`$.poll.waitSeconds`,
 * `$['a'].b[0]`, `$$.Execution.Name`): a root and plain steps, no filters or wildcards.
 */
export type PathStep = string | number;

export interface ReferencePath {
  root: '$' | '$$';
  steps: PathStep[];
}

const STEP = /^(?:\.([A-Za-z_$][\w$-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\])/;

/** Parses a reference path, or returns undefined when it uses anything beyond plain steps. */
export function parseReferencePath(path: string): ReferencePath | undefined {
  const root = path.startsWith('$$') ? '$$' : path.startsWith('$') ? '$' : undefined;
  if (!root) return undefined;
  const steps: PathStep[] = [];
  let rest = path.slice(root.length);
  while (rest.length > 0) {
    const match = STEP.exec(rest);
    if (!match) return undefined;
    if (match[1] !== undefined) steps.push(match[1]);
    else if (match[2] !== undefined) steps.push(match[2].replace(/\\(.)/g, '$1'));
    else steps.push(Number(match[3]));
    rest = rest.slice(match[0].length);
  }
  return { root, steps };
}

/** Reads the value at a parsed path; undefined when a step is missing. */
export function readPath(path: ReferencePath, input: unknown, context: unknown): unknown {
  let value = path.root === '$$' ? context : input;
  for (const step of path.steps) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PathStep, unknown>)[step];
  }
  return value;
}
