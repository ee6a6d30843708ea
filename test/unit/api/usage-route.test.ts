import { describe, expect, it } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { apiDeps } from '../../support/api-deps.ts';
import { type HttpRequest, httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryCancelDeps, inMemoryUsageSources } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-03-04T23:59:59.000Z');

const ADMIN = { client: 'ops', admin: true };

function setup(budgetUsd: number | null) {
  const limits = inMemoryUsageSources({ budgetUsd, slots: 2 });
  const store = new InMemoryJobStore({ now: () => NOW });
  const handler = createApiHandler(
    apiDeps(store, NOW, {
      limits,
      cancel: inMemoryCancelDeps(new InMemoryJobStore({ now: () => NOW })).deps,
    }),
  );
  // An admin unless the request says otherwise: the deployment's figures alone.
  const send = async (request: HttpRequest) => {
    const response = await handler(httpApiEvent({ authorizer: ADMIN, ...request }));
    return { ...response, json: JSON.parse(response.body ?? 'null') as unknown };
  };
  return { limits, store, send };
}

describe('GET /usage', () => {
  it("answers today's (UTC) spending against the budget and the slots in use", async () => {
    const { limits, send } = setup(2);
    await limits.budget.reserve('job_done', 0.4, '2026-03-04');
    await limits.budget.recordSpent('job_done', 0.5, '2026-03-04');
    await limits.budget.reserve('job_running', 0.8, '2026-03-04');
    await limits.semaphore.acquire('job_running');

    const response = await send({ method: 'GET', path: '/usage' });

    expect(response.statusCode).toBe(200);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    expect(response.json).toEqual({
      day: '2026-03-04',
      budget: { limitUsd: 2, reservedUsd: 0.8, spentUsd: 0.5, orphanedUsd: 0, remainingUsd: 0.7 },
      concurrency: { limit: 2, inUse: 1 },
      jobs: { started: 2, completed: 1, orphaned: 0 },
    });
  });

  it('answers the day asked for', async () => {
    const { limits, send } = setup(2);
    await limits.budget.reserve('job_yesterday', 0.4, '2026-03-03');

    const response = await send({ method: 'GET', path: '/usage', query: { day: '2026-03-03' } });

    expect(response.json).toMatchObject({ day: '2026-03-03', budget: { reservedUsd: 0.4 } });
  });

  it('never answers a negative remainder, and null remainder and limit without a budget', async () => {
    const over = setup(0.5);
    await over.limits.budget.recordSpent('job_expensive', 1.2, '2026-03-04');
    const unlimited = setup(null);

    const overBudget = await over.send({ method: 'GET', path: '/usage' });
    const noBudget = await unlimited.send({ method: 'GET', path: '/usage' });

    expect(overBudget.json).toMatchObject({ budget: { spentUsd: 1.2, remainingUsd: 0 } });
    expect(noBudget.json).toMatchObject({ budget: { limitUsd: null, remainingUsd: null } });
  });

  it.each(['2026-02-30', 'yesterday', '2026-3-4'])(
    'refuses day=%s naming the field',
    async (day) => {
      const { send } = setup(2);

      const response = await send({ method: 'GET', path: '/usage', query: { day } });

      expect(response.statusCode).toBe(400);
      expect(response.json).toMatchObject({ error: { code: 'invalid_request', field: 'day' } });
    },
  );

  it('has no POST route', async () => {
    const { send } = setup(2);

    const response = await send({ method: 'POST', path: '/usage' });

    expect(response.statusCode).toBe(404);
  });

  it("adds a client's own share of the day, from its jobs submitted that day", async () => {
    const { store, send } = setup(null);
    const day = (hour: string) => `2026-03-04T${hour}:00:00.000Z`;
    store.seed(
      aJob({
        jobId: newJobId(),
        client: 'alice',
        status: 'COMPLETED',
        actualCostUsd: 0.5,
        createdAt: day('01'),
      }),
      aJob({
        jobId: newJobId(),
        client: 'alice',
        status: 'IN_PROGRESS',
        estimatedCostUsd: 0.8,
        createdAt: day('02'),
      }),
      aJob({ jobId: newJobId(), client: 'alice', status: 'CANCELLED', createdAt: day('03') }),
      aJob({
        jobId: newJobId(),
        client: 'alice',
        status: 'COMPLETED',
        createdAt: '2026-03-03T23:00:00.000Z',
      }),
      aJob({ jobId: newJobId(), client: 'bob', status: 'COMPLETED', createdAt: day('04') }),
    );

    const alice = await send({ method: 'GET', path: '/usage', authorizer: { client: 'alice' } });
    const admin = await send({ method: 'GET', path: '/usage', query: { client: 'alice' } });

    const share = {
      client: 'alice',
      spentUsd: 0.5,
      reservedUsd: 0.8,
      jobs: { submitted: 3, completed: 1, failed: 0, cancelled: 1 },
      truncated: false,
    };
    expect(alice.json).toMatchObject({ day: '2026-03-04', client: share });
    expect(admin.json).toMatchObject({ client: share });
    // Another client naming alice gets its own share, never hers (client is the admin's alone).
    const bob = await send({
      method: 'GET',
      path: '/usage',
      authorizer: { client: 'bob' },
      query: { client: 'alice' },
    });
    expect(bob.json).toMatchObject({ client: { client: 'bob' } });
    expect(bob.json).not.toMatchObject({ client: share });
  });

  it("shows a client's part of the budget against its own daily budget, to it and to an admin", async () => {
    const { limits, send } = setup(10);
    const bob = { name: 'bob', dailyBudgetUsd: 2 };
    await limits.budget.reserve('job_done', 0.4, '2026-03-04', bob);
    await limits.budget.recordSpent('job_done', 0.5, '2026-03-04');
    await limits.budget.reserve('job_running', 0.8, '2026-03-04', bob);
    await limits.budget.reserve('job_alice', 0.4, '2026-03-04', { name: 'alice' });

    const asBob = await send({ method: 'GET', path: '/usage', authorizer: { client: 'bob' } });
    const asAdmin = await send({ method: 'GET', path: '/usage', query: { client: 'bob' } });
    const asAlice = await send({ method: 'GET', path: '/usage', authorizer: { client: 'alice' } });
    const adminAlone = await send({ method: 'GET', path: '/usage' });

    const bobsBudget = { limitUsd: 2, reservedUsd: 0.8, spentUsd: 0.5, remainingUsd: 0.7 };
    expect(asBob.json).toMatchObject({ client: { client: 'bob', budget: bobsBudget } });
    expect(asAdmin.json).toMatchObject({ client: { client: 'bob', budget: bobsBudget } });
    expect(asAlice.json).toMatchObject({
      client: {
        client: 'alice',
        budget: { limitUsd: null, reservedUsd: 0.4, spentUsd: 0, remainingUsd: null },
      },
    });
    expect(adminAlone.json).not.toHaveProperty('client');
  });

  it("never answers a negative remainder of a client's budget", async () => {
    const { limits, send } = setup(null);
    await limits.budget.reserve('job_dear', 0.4, '2026-03-04', { name: 'bob', dailyBudgetUsd: 1 });
    await limits.budget.recordSpent('job_dear', 1.5, '2026-03-04');

    const response = await send({ method: 'GET', path: '/usage', authorizer: { client: 'bob' } });

    expect(response.json).toMatchObject({
      client: { budget: { limitUsd: 1, spentUsd: 1.5, remainingUsd: 0 } },
    });
  });
});
