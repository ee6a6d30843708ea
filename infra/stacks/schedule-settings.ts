import type { Node } from 'constructs';
import { ContextError } from './context-value.ts';

/** CDK context key of the batch schedule (`cdk deploy -c schedule:expression="rate(10 minutes)"`). */
export const SCHEDULE_CONTEXT_KEY = 'schedule:expression';

/** How often deferred jobs are started and stuck ones swept, unless the context says otherwise. */
export const DEFAULT_SCHEDULE_EXPRESSION = 'rate(5 minutes)';

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(\S+( \S+){5}\)$/;

/**
 * The EventBridge schedule expression of the scheduler from context: `rate(N unit)` (AWS wants
 * the singular unit for 1 and the plural otherwise) or a six-field `cron(...)`. A malformed value
 * fails the synth with the key's name rather than the deployment.
 */
export function scheduleExpressionFromContext(node: Node): string {
  const value = node.tryGetContext(SCHEDULE_CONTEXT_KEY);
  if (value === undefined) return DEFAULT_SCHEDULE_EXPRESSION;
  const expression = String(value).trim();
  const rate = RATE.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    const singular = !(rate[2] ?? '').endsWith('s');
    if (amount >= 1 && singular === (amount === 1)) return expression;
  } else if (CRON.test(expression)) {
    return expression;
  }
  throw new ContextError(
    SCHEDULE_CONTEXT_KEY,
    `Invalid context ${SCHEDULE_CONTEXT_KEY} "${expression}": use rate(1 minute), rate(N minutes|hours|days) or cron(min hour day-of-month month day-of-week year)`,
  );
}
