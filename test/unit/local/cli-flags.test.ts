import { describe, expect, it } from 'vitest';
import {
  closestOption,
  editDistance,
  FlagError,
  parseFlags,
} from '../../../infra/local/cli-flags.ts';

const OPTIONS = {
  seconds: { type: 'string' },
  size: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  wait: { type: 'boolean' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function refusal(args: string[], allowPositionals = true): string {
  try {
    parseFlags({ args, options: OPTIONS, allowPositionals, strict: true });
  } catch (error) {
    expect(error).toBeInstanceOf(FlagError);
    return (error as Error).message;
  }
  throw new Error(`${args.join(' ')} was accepted`);
}

describe('parseFlags', () => {
  it('parses a valid command line as parseArgs does', () => {
    const parsed = parseFlags({
      args: ['list', '--seconds', '8', '--json'],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });

    expect(parsed.values).toEqual({ seconds: '8', json: true });
    expect(parsed.positionals).toEqual(['list']);
  });

  it.each([
    [['--secnds', '8'], 'unknown option --secnds (did you mean --seconds?)'],
    [['--secnds=8'], 'unknown option --secnds (did you mean --seconds?)'],
    [['--wiat'], 'unknown option --wiat (did you mean --wait?)'],
    [['--data-dri', 'x'], 'unknown option --data-dri (did you mean --data-dir?)'],
    [['--colour'], 'unknown option --colour (see --help)'],
    [['-x'], 'unknown option -x (see --help)'],
  ])('names an unknown option and the known one it is a typo of: %j', (args, message) => {
    expect(refusal(args)).toBe(message);
  });

  it.each([
    [['--seconds'], '--seconds needs a value'],
    [['--json=yes'], '--json takes no value'],
    [['--help=1'], '--help takes no value'],
    [
      ['--out', '--json'],
      '--out needs a value, not the option after it (write --out=<value> for a value starting with -)',
    ],
  ])('says which flag lacks or has an unwanted value: %j', (args, message) => {
    expect(refusal(args)).toBe(message);
  });

  it('names an argument a command without positionals does not take', () => {
    expect(refusal(['oops'], false)).toBe(
      'unexpected argument "oops": this command takes options only (see --help)',
    );
  });

  it("never quotes Node's parser text (an unclosed quote, advice about --)", () => {
    for (const args of [['--secnds'], ['--seconds'], ['--json=1'], ['-x']]) {
      expect(refusal(args)).not.toMatch(/'|positional|To specify/);
    }
  });
});

describe('closestOption', () => {
  it('suggests only a name near enough to be a typo', () => {
    expect(closestOption('modle', ['model', 'size'])).toBe('model');
    expect(closestOption('sze', ['seconds', 'size'])).toBe('size');
    expect(closestOption('speed', ['seconds', 'size'])).toBeUndefined();
  });
});

describe('editDistance', () => {
  it.each([
    ['seconds', 'seconds', 0],
    ['secnds', 'seconds', 1],
    ['wiat', 'wait', 1],
    ['', 'out', 3],
    ['kitten', 'sitting', 3],
  ])('%s to %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });
});
