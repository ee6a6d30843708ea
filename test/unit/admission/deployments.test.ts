import { describe, expect, it } from 'vitest';
import {
  createAdmission,
  type DeploymentChoice,
} from '../../../functions/shared/admission/admission.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { InMemoryDeploymentHealth } from '../../support/in-memory-deployment-health.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';

// Admission on a model served by several deployments (issue 24): where a slot is placed, and
// what a failover gives back.
const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = '2026-06-01';

function setup(deployments: DeploymentChoice[], options: { limit?: number } = {}) {
  const clock = () => NOW;
  const store = new InMemoryJobStore({ now: clock });
  const semaphore = new InMemoryConcurrencySemaphore(options.limit ?? 10, { now: clock });
  const budget = new InMemorySpendingBudget(null);
  const health = new InMemoryDeploymentHealth();
  const executions = recordingExecutions();
  const admission = createAdmission({
    store,
    semaphore,
    budget,
    overBudgetAction: 'queue',
    priceOf: (job) => job.estimatedCostUsd,
    clock,
    executions,
    health,
    deploymentsOf: () => deployments,
  });
  let created = 0;
  const job = (jobId: string, overrides: Partial<Job> = {}): Job => {
    created += 1;
    const stamp = new Date(NOW.getTime() - 3600_000 + created * 1000).toISOString();
    const made = aJob({ jobId, createdAt: stamp, updatedAt: stamp, ...overrides });
    store.seed(made);
    return made;
  };
  const stored = async (jobId: string): Promise<Job> => {
    const found = await store.get(jobId);
    if (found === undefined) throw new Error(`${jobId} is not stored`);
    return found;
  };
  /** The deployment each admitted job was placed on, in order. */
  const admitAll = async (ids: string[]) => {
    const placed: (string | undefined)[] = [];
    for (const id of ids) {
      await admission.admit(job(id));
      placed.push((await stored(id)).deployment);
    }
    return placed;
  };
  return { admission, store, semaphore, budget, health, executions, job, stored, admitAll };
}

describe('admission on a pool of deployments', () => {
  it('spreads slots by weight: the deployment furthest below its weighted share first', async () => {
    const { admitAll } = setup([
      { id: 'east', weight: 2 },
      { id: 'west', weight: 1 },
    ]);

    // Ties go by id: east (1/2) < west (1/1), then east 2/2 = west 1/1: east by id, ...
    const placed = await admitAll(['job_1', 'job_2', 'job_3', 'job_4', 'job_5', 'job_6']);

    expect(placed).toEqual(['east', 'east', 'west', 'east', 'east', 'west']);
  });

  it('keeps each deployment to its own maxConcurrent, parking the job when none has room', async () => {
    const { admission, job, stored, semaphore, admitAll } = setup([
      { id: 'east', weight: 1, maxConcurrent: 1 },
      { id: 'west', weight: 1, maxConcurrent: 1 },
    ]);

    const placed = await admitAll(['job_1', 'job_2']);
    const third = await admission.admit(job('job_3'));

    expect(placed.sort()).toEqual(['east', 'west']);
    expect(third).toBe('parked');
    expect(await stored('job_3')).toMatchObject({ deferredReason: 'capacity' });
    expect((await semaphore.state()).deployments).toEqual({
      east: { holders: ['job_1'] },
      west: { holders: ['job_2'] },
    });
  });

  it('sends nothing to an open deployment, and only the probe taker to a half-open one', async () => {
    const { health, admitAll } = setup([
      { id: 'east', weight: 1 },
      { id: 'west', weight: 1 },
    ]);
    for (let i = 0; i < 3; i += 1)
      await health.recordFailure('east', NOW, 'ProviderTransientError');

    const whileOpen = await admitAll(['job_1', 'job_2']);

    expect(whileOpen).toEqual(['west', 'west']);
    // After the cool-down: one probe goes east, the next job not.
    const later = new Date(NOW.getTime() + 61_000);
    expect(await health.states(['east'], later)).toEqual({ east: 'half_open' });
  });

  it('puts a remix on the deployment that holds its source video', async () => {
    const { admission, job, stored } = setup([
      { id: 'east', weight: 1 },
      { id: 'west', weight: 1 },
    ]);

    await admission.admit(job('job_1', { remixOfDeployment: 'west' }));

    expect((await stored('job_1')).deployment).toBe('west');
  });

  it('fails over: reservation back, its refused attempt forgotten, its slot freed, and the job started again at once from its queue', async () => {
    const { admission, store, budget, stored, job, executions } = setup([
      { id: 'east', weight: 1 },
      { id: 'west', weight: 1 },
    ]);
    await admission.admit(job('job_1'));
    const admitted = await stored('job_1');
    const attempted = await store.markCreateAttempt('job_1', NOW.toISOString());

    await admission.failover(attempted);

    expect(admitted.deployment).toBe('east');
    // Parked as failover, then the slot it freed was handed straight back to it (the only job
    // waiting): a new execution admits it again.
    expect(executions.started.map((start) => start.jobId)).toEqual(['job_1']);
    const restarted = await stored('job_1');
    expect(restarted).toMatchObject({ status: 'QUEUED', deferred: false });
    expect(restarted.createAttemptedAt).toBeUndefined();
    expect((await budget.usage(DAY)).reservedUsd).toBe(0);
  });

  it('frees the deployment slot of a job that settles', async () => {
    const { admission, semaphore, stored, job } = setup([
      { id: 'east', weight: 1, maxConcurrent: 1 },
    ]);
    await admission.admit(job('job_1'));

    await admission.settleRendered(await stored('job_1'), 0.4);

    expect((await semaphore.state()).deployments.east?.holders ?? []).toEqual([]);
    expect(await admission.admit(job('job_2'))).toBe('admitted');
  });
});
