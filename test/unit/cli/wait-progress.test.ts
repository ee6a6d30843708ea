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

describe('WaitProgress: where the job stands', () => {
  it('shows the place in line and ETA while waiting, the ETA while running, on a terminal', () => {
    const { stream, written } = fakeStream(true);
    const progress = new WaitProgress(stream, () => 0);

    progress.update({ status: 'QUEUED', progress: 0, queue: { position: 3, etaSeconds: 130 } });
    progress.update({ status: 'QUEUED', progress: 0, queue: { position: 2, etaSeconds: null } });
    progress.update({ status: 'IN_PROGRESS', progress: 40, etaSeconds: 38 });
    progress.update({ status: 'IN_PROGRESS', progress: 50, etaSeconds: null });

    expect(written.map((line) => line.replace(/^\r\[[#-]+\] +/, ''))).toEqual([
      '0% queued: #3 in line, done in ~2 min\u001b[K',
      '0% queued: #2 in line\u001b[K',
      '40% in progress: done in ~40 s\u001b[K',
      '50% in progress\u001b[K',
    ]);
  });

  it('writes no line to a pipe for a new place or ETA alone, only at a status or the interval', () => {
    const { stream, written } = fakeStream(false);
    let now = 0;
    const progress = new WaitProgress(stream, () => now);

    progress.update({ status: 'QUEUED', progress: 0, queue: { position: 3, etaSeconds: 130 } });
    now = 1_000;
    progress.update({ status: 'QUEUED', progress: 0, queue: { position: 2, etaSeconds: 100 } });
    now = 2_000;
    progress.update({ status: 'IN_PROGRESS', progress: 5, etaSeconds: 60 });
    now = 2_000 + LINE_INTERVAL_MS;
    progress.update({ status: 'IN_PROGRESS', progress: 60, etaSeconds: 20 });

    expect(written.map((line) => line.replace(/^\[[#-]+\] +/, ''))).toEqual([
      '0% queued: #3 in line, done in ~2 min\n',
      '5% in progress: done in ~1 min\n',
      '60% in progress: done in ~20 s\n',
    ]);
  });
});
