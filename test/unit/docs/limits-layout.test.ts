import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PARTITION_KEY, SORT_KEY } from '../../../functions/shared/jobs/jobs-table.ts';
import {
  BUDGET_TOTALS,
  budgetClientDayKey,
  budgetDayKey,
  budgetJobKey,
  CLIENT_BUDGET_LIMIT,
  clientRequestsKey,
  concurrencyKey,
  DEPLOYMENT_HEALTH,
  deploymentHealthKey,
  EXPIRES_AT,
  requestRateKey,
  SLOT_POOL,
  WINDOW_COUNT,
} from '../../../functions/shared/limits/limits-table.ts';

// docs/architecture.md's table of the limits items, held equal to limits-table.ts.
const doc = readFileSync(new URL('../../../docs/architecture.md', import.meta.url), 'utf8');

interface Row {
  item: string;
  pk: string;
  sk: string;
  /** The backticked names in the attributes column. */
  names: string[];
}

function limitsTable(): Row[] {
  const start = doc.indexOf('- Limits items live in the same table');
  if (start < 0) throw new Error('docs/architecture.md has no "Limits items" bullet');
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((line) => line.trim().startsWith('|'));
  const rows: Row[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line.split('|').map((cell) => cell.trim());
    const [, item = '', pk = '', sk = '', attributes = ''] = cells;
    const names = [...attributes.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    rows.push({ item, pk: pk.replaceAll('`', ''), sk: sk.replaceAll('`', ''), names });
  }
  return rows;
}

const keyOf = (key: Record<string, string>) => `${key[PARTITION_KEY]} / ${key[SORT_KEY]}`;

describe('docs/architecture.md: the limits items', () => {
  const rows = limitsTable();
  const row = (item: string) => {
    const found = rows.find((candidate) => candidate.item.startsWith(item));
    if (!found) throw new Error(`the limits table has no row "${item}"`);
    return found;
  };

  it('lists the keys limits-table.ts builds, in its order', () => {
    expect(rows.map((entry) => `${entry.pk} / ${entry.sk}`)).toEqual([
      keyOf(concurrencyKey()),
      keyOf(requestRateKey('<minute>')),
      keyOf(requestRateKey('<minute>', '<deployment>')),
      keyOf(clientRequestsKey('<client>', '<window start>')),
      keyOf(budgetDayKey('<day>')),
      keyOf(budgetClientDayKey('<day>', '<client>')),
      keyOf(budgetJobKey('<jobId>')),
      keyOf(deploymentHealthKey('<id>')),
    ]);
  });

  it("names every attribute of the slot pool, each client's and each deployment's", () => {
    const { holders, waitingClients, deploymentHolders, ...perClient } = SLOT_POOL;

    expect(row('slot pool').names.sort()).toEqual(
      [
        holders,
        waitingClients,
        `${deploymentHolders}<deployment>`,
        ...Object.values(perClient).map((prefix) => `${prefix}<client>`),
      ].sort(),
    );
  });

  it('names the window counters and their expiry', () => {
    expect(row('requests in a minute').names).toEqual([WINDOW_COUNT, EXPIRES_AT]);
  });

  it("names the day's totals, and a client's part of them with its own limit", () => {
    const { orphaned, orphanedJobs, ...clientTotals } = BUDGET_TOTALS;

    expect(row('budget of a UTC day').names.sort()).toEqual(Object.values(BUDGET_TOTALS).sort());
    expect(row("a client's part").names.sort()).toEqual(
      [...Object.values(clientTotals), CLIENT_BUDGET_LIMIT].sort(),
    );
    expect(orphaned).toBe('orphanedMicroUsd');
    expect(orphanedJobs).toBe('orphanedJobs');
  });

  it("names the job budget record's expiry and the breaker's attributes", () => {
    expect(row("a job's budget record").names).toContain(EXPIRES_AT);
    const breakerStates = ['closed', 'open'];
    const breaker = row("a provider deployment's breaker").names.filter(
      (name) => !breakerStates.includes(name),
    );

    expect(breaker.sort()).toEqual(Object.values(DEPLOYMENT_HEALTH).sort());
  });
});
