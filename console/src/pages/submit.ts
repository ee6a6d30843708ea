import { DEFAULT_PRIORITY, JOB_PRIORITIES } from '../../../functions/shared/jobs/job.ts';
import { ApiError, type SubmitRequest, type UsageReport } from '../api-client.ts';
import { type AppContext, pageTitle } from '../app-context.ts';
import {
  type ConsoleConfig,
  estimateCostUsd,
  MAX_PROMPT_LENGTH,
  MAX_START_TIMEOUT_SECONDS,
} from '../console-config.ts';
import { announce, h, replaceChildren } from '../dom.ts';
import { usd } from '../format.ts';

// Each is the id of its control and the field name the API's errors give.
const FIELDS = ['prompt', 'model', 'size', 'seconds', 'priority', 'startTimeoutSeconds'] as const;

/**
 * Submit a prompt: model, size and seconds from the catalogue, the cost estimate and budget, and
 * optionally a priority and a start timeout.
 */
export async function renderSubmit(
  context: AppContext,
  _parameter: string | undefined,
  query: URLSearchParams,
): Promise<void> {
  pageTitle('New video');
  const { config } = context;
  const from = query.get('from');
  const [usage, original] = await Promise.all([
    context.api.usage().catch(() => undefined),
    from ? context.api.getJob(from).catch(() => undefined) : undefined,
  ]);
  if (!context.isCurrent()) return;

  const errors = Object.fromEntries(
    FIELDS.map((field) => [field, h('p', { id: `${field}-error`, class: 'field-error' })]),
  ) as unknown as Record<(typeof FIELDS)[number], HTMLElement>;
  // No maxlength: it would cut a pasted prompt silently. The counter says, and submit refuses.
  const prompt = h('textarea', {
    id: 'prompt',
    name: 'prompt',
    rows: 4,
    required: true,
    'aria-describedby': 'prompt-help prompt-count prompt-error',
  });
  prompt.value = original?.prompt ?? '';
  const counter = h('p', { id: 'prompt-count', class: 'hint counter' });
  let wasOver = false;
  const updateCounter = () => {
    const length = prompt.value.trim().length;
    const over = length - MAX_PROMPT_LENGTH;
    counter.textContent =
      over > 0
        ? `${length} / ${MAX_PROMPT_LENGTH} characters: ${over} over the limit`
        : `${length} / ${MAX_PROMPT_LENGTH} characters`;
    counter.classList.toggle('over', over > 0);
    // Said once when it crosses the limit, not on every key.
    if (over > 0 !== wasOver) {
      announce(
        over > 0
          ? `The prompt is ${over} characters over the limit of ${MAX_PROMPT_LENGTH}.`
          : 'The prompt is within the limit again.',
      );
    }
    wasOver = over > 0;
  };
  updateCounter();
  const model = h(
    'select',
    { id: 'model', name: 'model', 'aria-describedby': 'model-error' },
    Object.keys(config.models).map((id) =>
      h('option', { value: id, selected: id === (original?.model ?? config.defaultModel) }, id),
    ),
  );
  const size = h('select', { id: 'size', name: 'size', 'aria-describedby': 'size-error' });
  const seconds = h('select', {
    id: 'seconds',
    name: 'seconds',
    'aria-describedby': 'seconds-error',
  });
  const priority = h(
    'select',
    { id: 'priority', name: 'priority', 'aria-describedby': 'priority-help priority-error' },
    JOB_PRIORITIES.map((value) =>
      h('option', { value, selected: value === (original?.priority ?? DEFAULT_PRIORITY) }, value),
    ),
  );
  const startTimeout = h('input', {
    id: 'startTimeoutSeconds',
    name: 'startTimeoutSeconds',
    type: 'number',
    inputmode: 'numeric',
    min: 1,
    max: MAX_START_TIMEOUT_SECONDS,
    step: 1,
    'aria-describedby': 'startTimeoutSeconds-help startTimeoutSeconds-error',
  });
  const defer = h('input', { id: 'defer', name: 'defer', type: 'checkbox' });
  const estimate = h('output', {
    id: 'estimate',
    for: 'model size seconds',
    'aria-live': 'polite',
  });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Generate video');

  const fillOptions = (select: HTMLSelectElement, values: string[], chosen: string) => {
    replaceChildren(
      select,
      values.map((value) => h('option', { value, selected: value === chosen }, value)),
    );
  };
  const onModel = (keep?: { size?: string; seconds?: string }) => {
    const spec = config.models[model.value];
    if (!spec) return;
    fillOptions(
      size,
      spec.sizes,
      keep?.size && spec.sizes.includes(keep.size) ? keep.size : spec.defaultSize,
    );
    fillOptions(
      seconds,
      spec.seconds,
      keep?.seconds && spec.seconds.includes(keep.seconds) ? keep.seconds : spec.defaultSeconds,
    );
    updateEstimate();
  };
  const updateEstimate = () => {
    const spec = config.models[model.value];
    if (!spec) return;
    const cost = estimateCostUsd(spec, size.value, seconds.value);
    estimate.textContent = `Estimated cost ${usd(cost)}${budgetNote(usage, cost, config.overBudgetAction)}`;
  };
  model.addEventListener('change', () => onModel({ size: size.value, seconds: seconds.value }));
  size.addEventListener('change', updateEstimate);
  seconds.addEventListener('change', updateEstimate);
  onModel(original ? { size: original.size, seconds: original.seconds } : undefined);

  // One key per form: a double click or a retry after a lost answer never starts a second job.
  let idempotencyKey = crypto.randomUUID();
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    field(
      'prompt',
      'Prompt',
      prompt,
      errors.prompt,
      `What the video shows: subject, setting, light, camera. Up to ${MAX_PROMPT_LENGTH} characters.`,
      counter,
    ),
    h(
      'div',
      { class: 'row' },
      field('model', 'Model', model, errors.model),
      field('size', 'Size (width x height)', size, errors.size),
      field('seconds', 'Seconds', seconds, errors.seconds),
    ),
    h(
      'div',
      { class: 'row' },
      field(
        'priority',
        'Priority',
        priority,
        errors.priority,
        'Orders this video among your own waiting ones.',
      ),
      field(
        'startTimeoutSeconds',
        'Start timeout',
        startTimeout,
        errors.startTimeoutSeconds,
        'Optional, in seconds: if the video has not started this long after you submit it, it is cancelled at no cost.',
      ),
    ),
    h(
      'div',
      { class: 'field checkbox' },
      defer,
      h(
        'label',
        { for: 'defer', class: 'checkbox-label' },
        'Wait for the next scheduled batch run instead of starting now',
      ),
    ),
    h('p', { class: 'estimate' }, estimate),
    formError,
    submit,
  );
  prompt.addEventListener('input', () => {
    idempotencyKey = crypto.randomUUID();
    updateCounter();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const field of FIELDS) clearError(form, field, errors[field]);
    formError.textContent = '';
    const length = prompt.value.trim().length;
    if (length === 0) {
      showError(form, 'prompt', errors.prompt, 'Enter a prompt.');
      return;
    }
    if (length > MAX_PROMPT_LENGTH) {
      showError(
        form,
        'prompt',
        errors.prompt,
        `The prompt is ${length} characters; the limit is ${MAX_PROMPT_LENGTH}. Shorten it by ${length - MAX_PROMPT_LENGTH}.`,
      );
      return;
    }
    const timeout = startTimeoutValue(startTimeout);
    if (timeout === 'invalid') {
      showError(
        form,
        'startTimeoutSeconds',
        errors.startTimeoutSeconds,
        `Enter a whole number of seconds from 1 to ${MAX_START_TIMEOUT_SECONDS} (7 days), or leave it empty.`,
      );
      return;
    }
    const chosenPriority = JOB_PRIORITIES.find((value) => value === priority.value);
    submit.disabled = true;
    submit.textContent = 'Submitting…';
    const request: SubmitRequest = {
      prompt: prompt.value.trim(),
      model: model.value,
      size: size.value,
      seconds: seconds.value,
      ...(defer.checked ? { defer: true } : {}),
      // The default is what no priority asks for; sending it would change nothing.
      ...(chosenPriority === undefined || chosenPriority === DEFAULT_PRIORITY
        ? {}
        : { priority: chosenPriority }),
      ...(timeout === undefined ? {} : { startTimeoutSeconds: timeout }),
    };
    context.api.submit(request, idempotencyKey).then(
      (job) => context.navigate(`#/videos/${encodeURIComponent(job.id)}`),
      (error: unknown) => {
        submit.disabled = false;
        submit.textContent = 'Generate video';
        const name = error instanceof ApiError ? error.field : undefined;
        const message = error instanceof Error ? error.message : String(error);
        if (name && (FIELDS as readonly string[]).includes(name)) {
          const fieldName = name as (typeof FIELDS)[number];
          showError(form, fieldName, errors[fieldName], message);
        } else {
          formError.textContent = message;
        }
      },
    );
  });

  replaceChildren(context.main, h('h1', {}, 'New video'), budgetSummary(usage), form);
}

/** The start timeout typed, undefined when empty, or 'invalid' (a browser's bad input included). */
function startTimeoutValue(input: HTMLInputElement): number | undefined | 'invalid' {
  const text = input.value.trim();
  if (text === '') return input.validity.badInput ? 'invalid' : undefined;
  const value = Number(text);
  return /^[0-9]+$/.test(text) && value >= 1 && value <= MAX_START_TIMEOUT_SECONDS
    ? value
    : 'invalid';
}

function field(
  id: string,
  label: string,
  control: HTMLElement,
  error: HTMLElement,
  help?: string,
  extra?: HTMLElement,
): HTMLElement {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    help ? h('p', { id: `${id}-help`, class: 'hint' }, help) : null,
    extra,
    error,
  );
}

function showError(form: HTMLFormElement, name: string, error: HTMLElement, message: string): void {
  error.textContent = message;
  const control = form.querySelector<HTMLElement>(`#${name}`);
  control?.setAttribute('aria-invalid', 'true');
  control?.focus();
}

function clearError(form: HTMLFormElement, name: string, error: HTMLElement): void {
  error.textContent = '';
  form.querySelector(`#${name}`)?.removeAttribute('aria-invalid');
}

/**
 * The estimate against today's budget, and what the deployment will do with a job over it
 * (create-provider-job.ts): a job dearer than the whole day's budget fails at once whatever the
 * action; one over what is left waits for a later day (`queue`) or fails at once (`reject`).
 */
export function budgetNote(
  usage: UsageReport | undefined,
  cost: number,
  action: ConsoleConfig['overBudgetAction'],
): string {
  const remaining = usage?.budget.remainingUsd;
  const limit = usage?.budget.limitUsd;
  if (remaining === null || remaining === undefined || limit === null || limit === undefined) {
    return '';
  }
  if (cost > limit) {
    return ` — more than the whole daily budget of ${usd(limit)}: the job would fail at once (budget_exceeded). Choose fewer seconds or a smaller size.`;
  }
  if (cost <= remaining) return ` of the ${usd(remaining)} left today`;
  const over = ` — more than the ${usd(remaining)} left today (UTC)`;
  if (action === 'queue') {
    return `${over}: the job will wait, queued, for a later day whose budget covers it.`;
  }
  if (action === 'reject') {
    return `${over}: this deployment refuses jobs over the budget, so it would fail at once (budget_exceeded).`;
  }
  return `${over}: the job will wait for a later day, or fail at once if the deployment refuses jobs over the budget.`;
}

function budgetSummary(usage: UsageReport | undefined): HTMLElement {
  if (!usage) return h('p', { class: 'hint' }, 'Today’s budget could not be read.');
  const { budget } = usage;
  return h(
    'p',
    { class: 'budget', id: 'budget-summary' },
    budget.limitUsd === null
      ? `No daily budget is set; ${usd(budget.spentUsd + budget.reservedUsd)} spent or reserved today (UTC).`
      : `Remaining daily budget: ${usd(budget.remainingUsd)} of ${usd(budget.limitUsd)} (UTC day ${usage.day}).`,
  );
}
