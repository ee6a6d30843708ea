import { execFileSync } from 'node:child_process';

/** How long a stopped or killed stack's processes may take to be gone. */
const EXIT_BOUND_MS = 30_000;

/** Processes whose command line mentions `dir` (a stack's node and java on that data directory). */
export function processesUsing(dir: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(dir) && !line.includes('ps -eo'));
}

/** The processes still using `dir` once they had a moment to finish dying (empty is good). */
export async function leftoverProcesses(dir: string): Promise<string[]> {
  const deadline = Date.now() + EXIT_BOUND_MS;
  let left = processesUsing(dir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = processesUsing(dir);
  }
  return left;
}
