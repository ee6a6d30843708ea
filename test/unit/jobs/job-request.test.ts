import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../../functions/shared/jobs/job-errors.ts';
import {
  MAX_PROMPT_LENGTH,
  MAX_START_TIMEOUT_SECONDS,
  parseVideoRequest,
  videoRequestSchema,
} from '../../../functions/shared/jobs/job-request.ts';

function validationErrorOf(input: unknown): ValidationError {
  try {
    parseVideoRequest(input);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parseVideoRequest', () => {
  it('normalizes a valid request: prompt trimmed, integer seconds as a string', () => {
    const request = parseVideoRequest({
      prompt: '  A lighthouse in a storm \n',
      model: 'sora-2-pro',
      size: '1280x720',
      seconds: 8,
      defer: true,
    });

    expect(request).toEqual({
      prompt: 'A lighthouse in a storm',
      model: 'sora-2-pro',
      size: '1280x720',
      seconds: '8',
      defer: true,
    });
  });

  it('accepts a prompt alone', () => {
    expect(parseVideoRequest({ prompt: 'x' })).toEqual({ prompt: 'x' });
  });

  it.each([
    ['a missing prompt', {}, 'prompt'],
    ['a blank prompt', { prompt: '   ' }, 'prompt'],
    ['a prompt that is not a string', { prompt: 42 }, 'prompt'],
    ['a prompt over the limit', { prompt: 'x'.repeat(MAX_PROMPT_LENGTH + 1) }, 'prompt'],
    ['an empty model', { prompt: 'x', model: '' }, 'model'],
    ['a size without x', { prompt: 'x', size: '1280*720' }, 'size'],
    ['a zero width', { prompt: 'x', size: '0x720' }, 'size'],
    ['fractional seconds', { prompt: 'x', seconds: 4.5 }, 'seconds'],
    ['fractional seconds as a string', { prompt: 'x', seconds: '4.5' }, 'seconds'],
    ['zero seconds', { prompt: 'x', seconds: 0 }, 'seconds'],
    ['seconds as a boolean', { prompt: 'x', seconds: true }, 'seconds'],
    ['defer as a string', { prompt: 'x', defer: 'yes' }, 'defer'],
    ['an unknown field', { prompt: 'x', input_reference: 'img' }, 'input_reference'],
    ['an array body', [], 'body'],
    ['a null body', null, 'body'],
  ])('rejects %s with ValidationError naming the field', (_what, input, field) => {
    const error = validationErrorOf(input);

    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it.each([
    ['high', 'high'],
    ['normal', 'normal'],
    ['low', 'low'],
  ])('accepts the priority %s', (_what, priority) => {
    expect(parseVideoRequest({ prompt: 'x', priority })).toEqual({ prompt: 'x', priority });
  });

  it.each([1, 3600, MAX_START_TIMEOUT_SECONDS])(
    'accepts a start timeout of %i seconds',
    (startTimeoutSeconds) => {
      expect(parseVideoRequest({ prompt: 'x', startTimeoutSeconds })).toEqual({
        prompt: 'x',
        startTimeoutSeconds,
      });
    },
  );

  it.each([
    ['an unknown priority', 'urgent'],
    ['a priority in capitals', 'HIGH'],
    ['an empty priority', ''],
    ['a priority as a number', 1],
    ['a null priority', null],
  ])('refuses %s, naming priority and the allowed values', (_what, priority) => {
    const error = validationErrorOf({ prompt: 'x', priority });

    expect(error.field).toBe('priority');
    expect(error.message).toBe('priority: must be one of high, normal, low');
  });

  it.each([
    ['zero', 0],
    ['a negative number', -60],
    ['a fraction', 1.5],
    ['more than 7 days', MAX_START_TIMEOUT_SECONDS + 1],
    ['a string', '60'],
    ['a boolean', true],
    ['null', null],
  ])('refuses a start timeout of %s, naming startTimeoutSeconds and the range', (_what, value) => {
    const error = validationErrorOf({ prompt: 'x', startTimeoutSeconds: value });

    expect(error.field).toBe('startTimeoutSeconds');
    expect(error.message).toBe(
      'startTimeoutSeconds: must be a whole number of seconds from 1 to 604800 (7 days)',
    );
  });

  it('accepts a prompt at the limit after trimming', () => {
    const prompt = `  ${'x'.repeat(MAX_PROMPT_LENGTH)}  `;

    expect(parseVideoRequest({ prompt }).prompt).toHaveLength(MAX_PROMPT_LENGTH);
  });
});

describe('videoRequestSchema', () => {
  it('converts to JSON Schema for the OpenAPI document', () => {
    const schema = z.toJSONSchema(videoRequestSchema, { io: 'input' });

    expect(schema).toMatchObject({
      type: 'object',
      required: ['prompt'],
      additionalProperties: false,
      properties: {
        prompt: { type: 'string', maxLength: MAX_PROMPT_LENGTH },
        seconds: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        defer: { type: 'boolean' },
        priority: { type: 'string', enum: ['high', 'normal', 'low'] },
        startTimeoutSeconds: { type: 'integer', minimum: 1, maximum: MAX_START_TIMEOUT_SECONDS },
      },
    });
  });

  it('describes the priority and the start timeout for the OpenAPI document', () => {
    const schema = z.toJSONSchema(videoRequestSchema, { io: 'input' }) as {
      properties: Record<string, { description?: string }>;
    };

    expect(schema.properties.priority?.description).toMatch(/high before normal before low/);
    expect(schema.properties.startTimeoutSeconds?.description).toMatch(
      /ends CANCELLED with error code start_timeout/,
    );
  });
});

describe('the prompt rule: a prompt must show something', () => {
  it.each([
    ['zero-width characters', '\u200b\u200c\u200d\u2060'],
    ['a NUL', '\u0000'],
    ['a right-to-left override', '\u202e'],
    ['a lone surrogate', '\ud800'],
    ['the replacement character invalid UTF-8 decodes to', '\ufffd\ufffd'],
    ['a byte order mark and a variation selector', '\ufeff\ufe0f'],
    ['control characters around spaces', '\u0007 \u001b \u00a0\u3000'],
  ])('refuses a prompt of only %s, naming prompt', (_what, prompt) => {
    const error = validationErrorOf({ prompt });

    expect(error.field).toBe('prompt');
    expect(error.message).toMatch(/^prompt: must contain visible text/);
  });

  it.each([
    ['an emoji joined by a zero-width joiner', '\u{1F469}\u200d\u{1F4BB} at work'],
    ['right-to-left text', 'قطة تعزف على البيانو'],
    ['one visible character among invisible ones', '\u200b\u200bx\u200b'],
  ])('accepts %s unchanged', (_what, prompt) => {
    expect(parseVideoRequest({ prompt }).prompt).toBe(prompt);
  });
});
