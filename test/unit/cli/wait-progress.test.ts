import { describe, expect, it } from 'vitest';
import { LINE_INTERVAL_MS, WaitProgress } from '../../../infra/cli/wait-progress.ts';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  const stream = {
    isTTY,
    write: (chunk: string) => {
      written.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('WaitProgress', () => {
  it('redraws one bar in place on a terminal, at every change', () => {
    const { stream, written } = fakeStream(true);
    const progress = new WaitProgress(stream, () => 0);

    progress.update({ status: 'IN_PROGRESS', progress: 10 });
    progress.update({ status: 'IN_PROGRESS', progress: 11 });
    progress.done();

    expect(written).toEqual([
      `\r[###---------------------------]  10% in progress\u001b[K`,
      `\r[###---------------------------]  11% in progress\u001b[K`,
      '\n',
    ]);
  });

  it('writes a line per status and at most one per interval in between to a pipe', () => {
    const { stream, written } = fakeStream(false);
    let now = 0;
    const progress = new WaitProgress(stream, () => now);

    progress.update({ status: 'QUEUED', progress: 0 });
    progress.update({ status: 'IN_PROGRESS', progress: 5 });
    now = 1_000;
    progress.update({ status: 'IN_PROGRESS', progress: 20 });
    now = LINE_INTERVAL_MS + 1;
    progress.update({ status: 'IN_PROGRESS', progress: 60 });
    now += 1_000;
    progress.update({ status: 'COMPLETED', progress: 100 });

    expect(written.map((line) => line.replace(/^\[[#-]+\] +/, ''))).toEqual([
      '0% queued\n',
      '5% in progress\n',
      '60% in progress\n',
      '100% completed\n',
    ]);
  });
});
