import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nowMs, scaledClock, useClock } from '../../functions/shared/clock.ts';
import { type LocalClock, startLocalClock } from '../../infra/local/local-clock.ts';
import { LocalStepFunctions } from '../../infra/local/local-step-functions.ts';
import type { LocalStateMachine } from '../../infra/local/state-machine-definition.ts';
import { createStateMachineRunner } from '../../infra/local/state-machine-runner.ts';

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Fn';

let dir: string;
let clocks: LocalClock[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sora-clock-'));
  clocks = [];
});

afterEach(async () => {
  for (const clock of clocks.reverse()) await clock.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startLocalClock>[0]): Promise<LocalClock> {
  const clock = await startLocalClock(options);
  clocks.push(clock);
  return clock;
}

/** A wall clock moved by hand. */
function wallClock(startMs: number) {
  let at = startMs;
  return {
    read: () => at,
    advance(ms: number) {
      at += ms;
    },
  };
}

describe('the local stack clock', () => {
  it('becomes the pipeline clock at speed x the wall clock, and gives the wall clock back', async () => {
    const wall = wallClock(Date.UTC(2030, 0, 1));
    const clock = await start({ speed: 100, file: null, realNow: wall.read });

    wall.advance(600);

    expect(clock.nowMs()).toBe(Date.UTC(2030, 0, 1, 0, 1));
    expect(nowMs()).toBe(Date.UTC(2030, 0, 1, 0, 1));
    await clock.stop();
    expect(Math.abs(nowMs() - Date.now())).toBeLessThan(1000);
  });

  it('starts where it is told (tests far from midnight), and only without a saved position', async () => {
    const wall = wallClock(Date.UTC(2030, 0, 1, 23, 58));
    const noon = Date.UTC(2030, 0, 1, 12);
    const clock = await start({ speed: 20, file: null, realNow: wall.read, startAtMs: noon });

    wall.advance(30_000); // ten minutes on the stack's clock

    expect(clock.startMs).toBe(noon);
    expect(clock.nowMs()).toBe(Date.UTC(2030, 0, 1, 12, 10));
    await expect(
      startLocalClock({ speed: 1, file: join(dir, 'clock.json'), startAtMs: noon }),
    ).rejects.toThrow(/startAtMs needs a clock without a file/);
  });

  it('continues where the last run stopped, never going back, even at a lower speed', async () => {
    const file = join(dir, 'clock.json');
    const wall = wallClock(Date.UTC(2030, 0, 1));
    const fast = await start({ speed: 100, file, realNow: wall.read });
    wall.advance(36_000); // an hour on the stack's clock
    const lastSeen = fast.nowMs();
    await fast.stop();

    wall.advance(1_000); // a restart a second later, at x1
    const slow = await start({ speed: 1, file, realNow: wall.read });

    expect(slow.startMs).toBe(lastSeen);
    expect(slow.nowMs()).toBe(Date.UTC(2030, 0, 1, 1));
    wall.advance(1_000);
    expect(slow.nowMs()).toBeGreaterThan(Date.UTC(2030, 0, 1, 1));
  });

  it('at x1, a clock a faster run left ahead runs at half speed until it meets the wall clock, then with it', async () => {
    const file = join(dir, 'clock.json');
    const wall = wallClock(Date.UTC(2030, 0, 1));
    const fast = await start({ speed: 100, file, realNow: wall.read });
    wall.advance(36_000); // an hour on the stack's clock in 36 s
    await fast.stop();

    wall.advance(4_000); // restarted at x1, the clock 59 min 20 s ahead of the wall clock
    const slow = await start({ speed: 1, file, realNow: wall.read });
    const ahead = Date.UTC(2030, 0, 1, 1) - Date.UTC(2030, 0, 1, 0, 0, 40);
    const started = slow.nowMs();
    wall.advance(60_000);
    const aMinuteLater = slow.nowMs();
    wall.advance(2 * ahead - 60_000 - 1);
    const justBefore = slow.nowMs();
    wall.advance(1);
    const met = slow.nowMs();
    wall.advance(60_000);

    expect(slow.catchUp).toEqual({
      aheadMs: ahead,
      meetsWallClockAtMs: Date.UTC(2030, 0, 1, 0, 0, 40) + 2 * ahead,
    });
    expect(started).toBe(Date.UTC(2030, 0, 1, 1));
    expect(aMinuteLater - started).toBe(30_000);
    expect(slow.rate()).toBe(1);
    expect(justBefore).toBeLessThanOrEqual(wall.read() - 60_000);
    expect(met).toBe(wall.read() - 60_000);
    expect(slow.nowMs()).toBe(wall.read());
  });

  it('at x1, a run killed without stopping leaves the next run at the wall clock, not ahead of it', async () => {
    const file = join(dir, 'clock.json');
    const wall = wallClock(Date.UTC(2030, 0, 1));
    await start({ speed: 1, file, realNow: wall.read }); // never stopped: a crash

    wall.advance(2_000); // restarted two seconds later
    const next = await start({ speed: 1, file, realNow: wall.read });

    expect(next.startMs).toBe(wall.read());
    expect(next.catchUp).toBeUndefined();
    expect(next.nowMs()).toBe(wall.read());
  });

  it('saves a position ahead of itself, so a crashed run leaves no later timestamp behind', async () => {
    const file = join(dir, 'clock.json');
    const wall = wallClock(Date.UTC(2030, 0, 1));
    const clock = await start({ speed: 50, file, realNow: wall.read });
    wall.advance(4_000); // less than the save interval: no save since the start

    const saved = JSON.parse(await readFile(file, 'utf8')) as { nowMs: number };

    expect(saved.nowMs).toBeGreaterThanOrEqual(clock.nowMs());
  });

  it('starts from the wall clock when it is later than the saved position', async () => {
    const file = join(dir, 'clock.json');
    const wall = wallClock(Date.UTC(2030, 0, 1));
    await (await start({ speed: 2, file, realNow: wall.read })).stop();

    wall.advance(86_400_000);
    const clock = await start({ speed: 2, file, realNow: wall.read });

    expect(clock.startMs).toBe(Date.UTC(2030, 0, 2));
  });
});

describe('emulated Step Functions on the pipeline clock', () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  // A task that receives $$.Execution.StartTime, then a Wait until 10 s after it.
  const machine: LocalStateMachine = {
    logicalId: 'Clocked',
    definition: {
      StartAt: 'Start',
      States: {
        Start: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: LAMBDA_ARN,
            Payload: { 'startedAt.$': '$$.Execution.StartTime' },
          },
          ResultSelector: { 'startedAt.$': '$.Payload.startedAt', 'until.$': '$.Payload.until' },
          Next: 'WaitUntil',
        },
        WaitUntil: { Type: 'Wait', TimestampPath: '$.until', Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    },
  };

  it('records start and stop dates on the clock, hands tasks that start date, and waits Timestamps on it', async () => {
    const speed = 100;
    const origin = Date.UTC(2031, 0, 1);
    const payloads: unknown[] = [];
    const stepFunctions = new LocalStepFunctions();
    const arn = stepFunctions.addStateMachine(
      'Clocked',
      createStateMachineRunner(machine, {
        speed,
        invokeLambda: async (_name, payload) => {
          payloads.push(payload);
          const startedAt = Date.parse((payload as { startedAt: string }).startedAt);
          return { payload: { startedAt, until: new Date(startedAt + 10_000).toISOString() } };
        },
      }),
    );
    restore = useClock(scaledClock(speed, { startMs: origin }));
    const realStart = Date.now();

    const { executionArn, startDate } = stepFunctions.startExecution({ stateMachineArn: arn });
    await stepFunctions.whenIdle();
    const realElapsed = Date.now() - realStart;
    const record = stepFunctions.describeExecution({ executionArn });

    expect(record.status).toBe('SUCCEEDED');
    // Dates on the stack's clock (2031), not the wall clock's.
    expect(startDate.getTime()).toBeGreaterThanOrEqual(origin);
    expect(startDate.getTime()).toBeLessThan(origin + 10_000);
    expect(payloads).toEqual([{ startedAt: startDate.toISOString() }]);
    // 10 s on the stack's clock is 100 ms of wall clock at x100.
    const stopDate = record.stopDate?.getTime() ?? 0;
    expect(stopDate - startDate.getTime()).toBeGreaterThanOrEqual(10_000);
    expect(realElapsed).toBeGreaterThanOrEqual(90);
    expect(realElapsed).toBeLessThan(2_000);
    await stepFunctions.close();
  });

  it('sleeps a Wait for its duration on the clock at the rate the clock runs now (a clock catching up is slower)', async () => {
    const waiting: LocalStateMachine = {
      logicalId: 'Waiting',
      definition: {
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 1, Next: 'Done' }, Done: { Type: 'Succeed' } },
      },
    };
    const stepFunctions = new LocalStepFunctions();
    // Configured at x100, the clock runs at x10 now: one second of it is 100 ms of ours.
    const arn = stepFunctions.addStateMachine(
      'Waiting',
      createStateMachineRunner(waiting, {
        speed: 100,
        clockRate: () => 10,
        invokeLambda: async () => ({ payload: null }),
      }),
    );
    const realStart = Date.now();

    stepFunctions.startExecution({ stateMachineArn: arn });
    await stepFunctions.whenIdle();
    const realElapsed = Date.now() - realStart;

    expect(realElapsed).toBeGreaterThanOrEqual(95);
    expect(realElapsed).toBeLessThan(2_000);
    await stepFunctions.close();
  });
});
