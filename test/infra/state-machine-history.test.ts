/**
 * The worst-case execution history of the generation state machine, computed from the
 * synthesized definition with every retrier exhausted at every Task entry, stays within
 * HISTORY_BUDGET events (Step Functions' hard limit is 25,000 per execution; we keep a tenth,
 * so history never decides whether a job finishes).
 *
 * The model (an upper bound on the events of one execution):
 * - ExecutionStarted + ExecutionSucceeded/Failed: 2 events.
 * - Every state entered and exited: 2 events (a Pass, Wait, Choice, Succeed or Fail is just that).
 * - A Lambda Task adds TaskScheduled, TaskStarted and TaskSucceeded/TaskFailed per attempt: 3
 *   events. One entry of a Task may be attempted 1 + sum(MaxAttempts of its retriers) times:
 *   each retrier counts its own attempts, so every retrier can be exhausted in turn.
 * - Loops are bounded only by the counts their Choice states check, read from the definition:
 *   - the rate-wait loop (CreateProviderJob -> IsProviderJobStarted -> WaitForRequests) goes
 *     round while `$.poll.rateWaits <= N`; StartJob sets rateWaits to 0 and the create step
 *     answers rateWaits + 1 for each wait, so there are at most N + 1 creates (N = MAX_RATE_WAITS);
 *   - the poll loop (WaitForProvider -> PollProviderJob -> IsVideoReady) leaves at
 *     `$.poll.pollCount >= N`; StartJob and the create step set pollCount to 0 and each poll
 *     answers pollCount + 1, so there are at most N polls (N = MAX_POLLS_PER_EXECUTION).
 *   Each run of a loop's Task is counted as a whole pass round the loop (every state of it), and
 *   the states between the loop's entry and its Task once more (WaitForProvider): this is the
 *   worst path StartJob, AdmitJob (every retrier exhausted, then admitted), IsJobAdmitted,
 *   (MAX_RATE_WAITS + 1) x [CreateProviderJob + IsProviderJobStarted + WaitForRequests],
 *   WaitForProvider + MAX_POLLS_PER_EXECUTION x [WaitForProvider + PollProviderJob +
 *   IsVideoReady], the larger of PollLimitReached and DownloadVideo, RecordFailure,
 *   IsJobResumed and an end state.
 * AdmitJob runs once per execution (it is in no loop): a parked job's execution ends there and a
 * hand-off starts a new one, whose history starts again from nothing.
 * The longest path is searched in the definition itself (its loops collapsed to their bounded
 * cost), so a new state, transition or retrier counts without this file changing; a new loop
 * fails the test until it is bounded here.
 *
 * For scale: with the current bounds and retriers the worst case is 1,977 events (1,946 before
 * the AdmitJob step; its 9 attempts and IsJobAdmitted add 31). With 200 polls per execution (the
 * old DEFAULT_MAX_POLLS) it would be 10,647 and this test would fail; the last test below
 * computes exactly that.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  MAX_POLLS_PER_EXECUTION,
  MAX_RATE_WAITS,
} from '../../functions/shared/workflow/workflow-bounds.ts';
import { GenerationStateMachine } from '../../infra/constructs/generation-state-machine.ts';
import {
  type Asl,
  type AslState,
  type Catcher,
  type ChoiceRule,
  definitionOf,
  nextStatesOf,
  type Retrier,
  synthesizeForTest,
} from './synthesized-pipeline.ts';

const HISTORY_BUDGET = 2_500;
const EXECUTION_EVENTS = 2;
const STATE_EVENTS = 2;
const EVENTS_PER_TASK_ATTEMPT = 3;
/** ASL's default MaxAttempts, for a retrier that does not say. */
const DEFAULT_MAX_ATTEMPTS = 3;

const RATE_LOOP = ['CreateProviderJob', 'IsProviderJobStarted', 'WaitForRequests'];
const POLL_LOOP = ['WaitForProvider', 'PollProviderJob', 'IsVideoReady'];

function stateIn(asl: Asl, name: string): AslState {
  const found = asl.States[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
}

/** How often one entry of a Task may run: once, plus every retrier's attempts. */
function attemptsOf(state: AslState): number {
  const retriers = (state.Retry ?? []) as Retrier[];
  return 1 + retriers.reduce((sum, r) => sum + (r.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS), 0);
}

/** Events of one entry of a state, every retrier exhausted. */
function eventsOf(state: AslState): number {
  switch (state.Type) {
    case 'Task':
      if (state.Resource !== 'arn:aws:states:::lambda:invoke') {
        throw new Error(`Task resource ${String(state.Resource)} is not modelled`);
      }
      return STATE_EVENTS + EVENTS_PER_TASK_ATTEMPT * attemptsOf(state);
    case 'Pass':
    case 'Wait':
    case 'Choice':
    case 'Succeed':
    case 'Fail':
      return STATE_EVENTS;
    default:
      throw new Error(`state type ${state.Type} is not modelled`);
  }
}

/** The bound IsProviderJobStarted puts on the rate-wait loop: at most N + 1 creates. */
function rateLoopBound(asl: Asl): { checked: number; creates: number } {
  const choice = stateIn(asl, 'IsProviderJobStarted');
  const looping = ((choice.Choices ?? []) as ChoiceRule[]).filter((rule) =>
    RATE_LOOP.includes(rule.Next ?? ''),
  );
  if (looping.length !== 1 || RATE_LOOP.includes(String(choice.Default))) {
    throw new Error('IsProviderJobStarted must go round the rate-wait loop by one rule only');
  }
  const [rule] = looping;
  const bound = rule?.And?.find(
    (inner) => inner.Variable === '$.poll.rateWaits' && 'NumericLessThanEquals' in inner,
  )?.NumericLessThanEquals;
  if (typeof bound !== 'number') {
    throw new Error('the rate-wait rule must check $.poll.rateWaits <= a number');
  }
  return { checked: bound, creates: bound + 1 };
}

/** The bound IsVideoReady puts on the poll loop: at most N polls. */
function pollLoopBound(asl: Asl): { checked: number; polls: number } {
  const choice = stateIn(asl, 'IsVideoReady');
  const rules = (choice.Choices ?? []) as ChoiceRule[];
  if (rules.some((rule) => POLL_LOOP.includes(rule.Next ?? ''))) {
    throw new Error('IsVideoReady must go round the poll loop by its Default only');
  }
  const limit = rules.find(
    (rule) => rule.Variable === '$.poll.pollCount' && 'NumericGreaterThanEquals' in rule,
  )?.NumericGreaterThanEquals;
  if (typeof limit !== 'number') {
    throw new Error('IsVideoReady must leave the loop at $.poll.pollCount >= a number');
  }
  return { checked: limit, polls: limit };
}

/** Strongly connected components with a cycle (Tarjan), each as its sorted state names. */
function loopsOf(asl: Asl): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  const visit = (name: string) => {
    index.set(name, index.size);
    low.set(name, index.get(name) ?? 0);
    stack.push(name);
    onStack.add(name);
    for (const next of nextStatesOf(stateIn(asl, name))) {
      if (!index.has(next)) {
        visit(next);
        low.set(name, Math.min(low.get(name) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(name, Math.min(low.get(name) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(name) !== index.get(name)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== name);
    const selfLoop = nextStatesOf(stateIn(asl, name)).includes(name);
    if (component.length > 1 || selfLoop) loops.push(component.sort());
  };
  for (const name of Object.keys(asl.States)) if (!index.has(name)) visit(name);
  return loops;
}

interface WorstCase {
  events: number;
  /** The longest path: state names, a loop as `loop(<its states>)`. */
  path: string[];
}

/**
 * The longest history of one execution: the longest path from StartAt to an end, with each
 * known loop collapsed to its bounded cost (see the model above). Throws on an unknown loop.
 */
function worstCaseHistory(asl: Asl): WorstCase {
  const rate = rateLoopBound(asl);
  const poll = pollLoopBound(asl);
  const cost = (names: string[]) =>
    names.reduce((sum, name) => sum + eventsOf(stateIn(asl, name)), 0);
  const known = [
    // Entered at its Task: one whole pass per create.
    { states: RATE_LOOP, events: rate.creates * cost(RATE_LOOP) },
    // Entered at WaitForProvider, before its Task: one whole pass per poll, the wait once more.
    { states: POLL_LOOP, events: poll.polls * cost(POLL_LOOP) + cost(['WaitForProvider']) },
  ];
  const componentOf = new Map<string, { label: string; states: string[]; events: number }>();
  for (const loop of loopsOf(asl)) {
    const match = known.find(
      (k) => k.states.length === loop.length && k.states.every((s) => loop.includes(s)),
    );
    if (!match) throw new Error(`unbounded loop in the model: ${loop.join(', ')}`);
    const component = { label: `loop(${match.states.join(',')})`, ...match };
    for (const name of loop) componentOf.set(name, component);
  }
  for (const name of Object.keys(asl.States)) {
    if (!componentOf.has(name)) {
      componentOf.set(name, { label: name, states: [name], events: eventsOf(stateIn(asl, name)) });
    }
  }

  const longest = new Map<string, WorstCase>();
  const longestFrom = (label: string): WorstCase => {
    const cached = longest.get(label);
    if (cached) return cached;
    const component = [...componentOf.values()].find((c) => c.label === label);
    if (!component) throw new Error(`no component ${label}`);
    const exits = new Set(
      component.states
        .flatMap((name) => nextStatesOf(stateIn(asl, name)))
        .map((next) => componentOf.get(next)?.label)
        .filter((next): next is string => next !== undefined && next !== label),
    );
    let best: WorstCase = { events: 0, path: [] };
    for (const exit of exits) {
      const candidate = longestFrom(exit);
      if (candidate.events > best.events) best = candidate;
    }
    const result = { events: component.events + best.events, path: [label, ...best.path] };
    longest.set(label, result);
    return result;
  };
  const start = componentOf.get(asl.StartAt);
  if (!start) throw new Error(`no StartAt ${asl.StartAt}`);
  const found = longestFrom(start.label);
  return { events: EXECUTION_EVENTS + found.events, path: found.path };
}

/** The worst path the model above names, written out state by state (a cross-check of the search). */
function namedWorstPath(asl: Asl): number {
  const e = (name: string) => eventsOf(stateIn(asl, name));
  const creates = rateLoopBound(asl).creates;
  const polls = pollLoopBound(asl).polls;
  return (
    EXECUTION_EVENTS +
    e('StartJob') +
    e('AdmitJob') +
    e('IsJobAdmitted') +
    creates * (e('CreateProviderJob') + e('IsProviderJobStarted') + e('WaitForRequests')) +
    e('WaitForProvider') +
    polls * (e('WaitForProvider') + e('PollProviderJob') + e('IsVideoReady')) +
    Math.max(e('PollLimitReached'), e('DownloadVideo')) +
    e('RecordFailure') +
    e('IsJobResumed') +
    Math.max(e('JobFailed'), e('JobResumed'))
  );
}

/** The generation state machine alone, in a stack of its own, with `maxPolls` polls. */
function definitionWithMaxPolls(maxPolls: number): Asl {
  const stack = new Stack(new App(), 'HistoryProbe');
  const fn = (id: string) =>
    LambdaFunction.fromFunctionArn(
      stack,
      id,
      `arn:aws:lambda:us-east-1:123456789012:function:${id}`,
    );
  new GenerationStateMachine(stack, 'Generation', {
    admitJob: fn('admit'),
    createProviderJob: fn('create'),
    pollProviderJob: fn('poll'),
    downloadVideo: fn('download'),
    recordFailure: fn('record'),
    maxPolls,
  });
  return definitionOf(Template.fromStack(stack));
}

// Computed at collection time so that the figure can be in the test's name.
const asl = definitionOf(synthesizeForTest().pipelineTemplate);
const worst = worstCaseHistory(asl);
const tasks = Object.entries(asl.States).filter(([, state]) => state.Type === 'Task');

describe('worst-case execution history', () => {
  it(`is ${worst.events} events with every retrier exhausted, within ${HISTORY_BUDGET}`, () => {
    expect(
      worst.events,
      `worst-case history ${worst.events} events along ${worst.path.join(' -> ')}`,
    ).toBeLessThanOrEqual(HISTORY_BUDGET);
  });

  it('bounds the rate-wait loop by the rateWaits check of the definition: MAX_RATE_WAITS', () => {
    expect(rateLoopBound(asl)).toEqual({ checked: MAX_RATE_WAITS, creates: MAX_RATE_WAITS + 1 });
  });

  it('bounds the poll loop by the pollCount check of the definition: MAX_POLLS_PER_EXECUTION', () => {
    expect(pollLoopBound(asl)).toEqual({
      checked: MAX_POLLS_PER_EXECUTION,
      polls: MAX_POLLS_PER_EXECUTION,
    });
  });

  it('starts both counts at zero (StartJob), so the checks bound this execution alone', () => {
    expect(stateIn(asl, 'StartJob').Result).toMatchObject({ rateWaits: 0, pollCount: 0 });
    // AdmitJob runs between StartJob and the create step: it must leave the counts alone.
    expect(stateIn(asl, 'StartJob').Next).toBe('AdmitJob');
    expect(stateIn(asl, 'AdmitJob').ResultPath).toBe('$.admit');
  });

  it('hands the counts to the steps that increment them', () => {
    const payloadOf = (name: string) =>
      (stateIn(asl, name).Parameters as Record<string, unknown>).Payload;

    expect(payloadOf('CreateProviderJob')).toMatchObject({ 'rateWaits.$': '$.poll.rateWaits' });
    expect(payloadOf('PollProviderJob')).toMatchObject({ 'pollCount.$': '$.poll.pollCount' });
  });

  it('has no loop but the rate-wait loop and the poll loop', () => {
    expect(loopsOf(asl)).toEqual(
      expect.arrayContaining([[...RATE_LOOP].sort(), [...POLL_LOOP].sort()]),
    );
    expect(loopsOf(asl)).toHaveLength(2);
  });

  // The model counts the states between a loop's entry and its Task once more than the passes.
  it.each([
    [RATE_LOOP, 'CreateProviderJob'],
    [POLL_LOOP, 'WaitForProvider'],
  ])('enters the loop %j only at %s', (loop, entry) => {
    const entered = Object.entries(asl.States)
      .filter(([name]) => !loop.includes(name))
      .flatMap(([, state]) => nextStatesOf(state))
      .filter((next) => loop.includes(next));

    expect(new Set(entered)).toEqual(new Set([entry]));
  });

  it('refuses a definition with a loop the model does not bound', () => {
    const parkedJobRestarts: Asl = {
      ...asl,
      States: { ...asl.States, JobDeferred: { Type: 'Pass', Next: 'StartJob' } },
    };

    expect(() => worstCaseHistory(parkedJobRestarts)).toThrow(/unbounded loop/);
  });

  it('finds the named worst path: admission, rate waits, polls, a failed download, RecordFailure, IsJobResumed', () => {
    expect(worst.path.slice(0, -1)).toEqual([
      'StartJob',
      'AdmitJob',
      'IsJobAdmitted',
      `loop(${RATE_LOOP.join(',')})`,
      `loop(${POLL_LOOP.join(',')})`,
      'DownloadVideo',
      'RecordFailure',
      'IsJobResumed',
    ]);
    expect(['JobFailed', 'JobResumed']).toContain(worst.path.at(-1));
    expect(worst.events).toBe(namedWorstPath(asl));
  });

  it('would exceed the budget with 200 polls per execution (the old bound): 10,647 events', () => {
    const old = worstCaseHistory(definitionWithMaxPolls(200));

    expect(old.events).toBe(10_647);
    expect(old.events).toBeGreaterThan(HISTORY_BUDGET);
  });
});

describe('retries and catches of every Task (what the history model relies on)', () => {
  it('has the five Lambda tasks', () => {
    expect(tasks.map(([name]) => name).sort()).toEqual([
      'AdmitJob',
      'CreateProviderJob',
      'DownloadVideo',
      'PollProviderJob',
      'RecordFailure',
    ]);
  });

  it.each(tasks)(
    '%s has retriers, each with full jitter, a delay cap and a stated MaxAttempts',
    (_, state) => {
      const retriers = (state.Retry ?? []) as Retrier[];

      expect(retriers.length).toBeGreaterThan(0);
      for (const retrier of retriers) {
        expect(retrier).toMatchObject({
          JitterStrategy: 'FULL',
          MaxDelaySeconds: expect.any(Number),
          MaxAttempts: expect.any(Number),
        });
      }
    },
  );

  it.each(tasks)('%s catches every error', (_, state) => {
    const catchers = (state.Catch ?? []) as Catcher[];

    expect(catchers.length).toBeGreaterThan(0);
    expect(catchers.flatMap((catcher) => catcher.ErrorEquals)).toContain('States.ALL');
  });
});
