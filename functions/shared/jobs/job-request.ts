import * as z from 'zod/mini';
import '../schema-messages.ts';
import { uploadKeyProblem } from '../storage/upload-keys.ts';
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../webhooks/webhook-events.ts';
import { JOB_PRIORITIES } from './job.ts';
import { ValidationError } from './job-errors.ts';
import { hasVisibleText, INVISIBLE_PROMPT_MESSAGE } from './prompt-text.ts';

/**
 * The video request every entry point accepts (HTTP body, S3 drop-folder prompt, batch line).
 * Shape only: whether a model supports a size or duration is the provider catalogue's call
 * (`resolveVideoParams`), not this schema's.
 *
 * The prompt limit is ours, not the protocol's: 4000 characters after trimming keeps an item far
 * below DynamoDB's 400 KB and is longer than any prompt the providers document accepting.
 */
export const MAX_PROMPT_LENGTH = 4000;

const SECONDS_MESSAGE = 'must be a whole number of seconds, e.g. "8" or 8';

/**
 * The longest start timeout a request may ask for: a week covers waiting out a spent daily budget
 * or a weekend's schedule; a longer wait is better expressed by submitting later.
 */
export const MAX_START_TIMEOUT_SECONDS = 7 * 24 * 60 * 60;

export const START_TIMEOUT_MESSAGE = `must be a whole number of seconds from 1 to ${MAX_START_TIMEOUT_SECONDS} (7 days)`;
export const PRIORITY_MESSAGE = `must be one of ${JOB_PRIORITIES.join(', ')}`;

// zod/mini (see schema-messages.ts): checks are `.check(...)`, wrappers are functions.
export const videoRequestSchema = z
  .strictObject({
    prompt: z
      .string({
        error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string'),
      })
      .check(
        z.trim(),
        z.minLength(1, 'must not be empty'),
        z.maxLength(MAX_PROMPT_LENGTH, `must be at most ${MAX_PROMPT_LENGTH} characters`),
        z.refine(hasVisibleText, INVISIBLE_PROMPT_MESSAGE),
        z.describe('What the video shows. Leading and trailing whitespace is removed.'),
      ),
    model: z
      .optional(
        z
          .string({ error: 'must be a string' })
          .check(
            z.trim(),
            z.minLength(1, 'must not be empty'),
            z.maxLength(100, 'must be at most 100 characters'),
          ),
      )
      .check(z.describe("Provider model id; defaults to the deployment's configured model.")),
    size: z
      .optional(
        z
          .string({ error: 'must be a string' })
          .check(z.regex(/^[1-9]\d{0,4}x[1-9]\d{0,4}$/, 'must be WIDTHxHEIGHT, e.g. "1280x720"')),
      )
      .check(z.describe('Resolution as WIDTHxHEIGHT, e.g. "720x1280"; defaults per model.')),
    seconds: z
      .optional(
        z.pipe(
          z.union(
            [
              z.string().check(z.regex(/^[1-9]\d{0,3}$/, SECONDS_MESSAGE)),
              z
                .int(SECONDS_MESSAGE)
                .check(z.positive(SECONDS_MESSAGE), z.lte(9999, SECONDS_MESSAGE)),
            ],
            { error: SECONDS_MESSAGE },
          ),
          z.transform(String),
        ),
      )
      .check(
        z.describe(
          'Duration in whole seconds, as a string ("8") or an integer (8); defaults per model.',
        ),
      ),
    defer: z
      .optional(z.boolean({ error: 'must be true or false' }))
      .check(
        z.describe('When true the job waits as QUEUED until a scheduled batch run starts it.'),
      ),
    priority: z
      .optional(z.enum(JOB_PRIORITIES, { error: PRIORITY_MESSAGE }))
      .check(
        z.describe(
          "Orders the job within its client's share: high before normal before low, first come first served within each; default normal. It never moves a job ahead of another client's.",
        ),
      ),
    startTimeoutSeconds: z
      .optional(
        z
          .int(START_TIMEOUT_MESSAGE)
          .check(
            z.gte(1, START_TIMEOUT_MESSAGE),
            z.lte(MAX_START_TIMEOUT_SECONDS, START_TIMEOUT_MESSAGE),
          ),
      )
      .check(
        z.describe(
          `A job not admitted (given a slot and its budget) within this many seconds of submission ends CANCELLED with error code start_timeout, never having called the provider and at no cost. 1 to ${MAX_START_TIMEOUT_SECONDS} (7 days); default: no timeout.`,
        ),
      ),
    input_reference: z
      .optional(
        z.strictObject({
          key: z.string({ error: 'must be a string' }).check(
            z.regex(
              /^uploads\/[^\s]{1,1000}$/,
              'must be a key under uploads/ in the videos bucket',
            ),
            z.superRefine((key, ctx) => {
              const problem = uploadKeyProblem(key);
              if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
            }),
            z.describe(
              "The S3 key of the image in the videos bucket: under uploads/<client>/ (the caller's own uploads; an admin may name any key under uploads/). A name, not a path: no empty, '.' or '..' segment, backslash, control character or percent sign.",
            ),
          ),
        }),
      )
      .check(
        z.describe(
          "Image-to-video: a JPEG, PNG or WebP of exactly the video's size (at most 4 MiB), uploaded to the videos bucket under uploads/<client>/ (or sent as the multipart file input_reference).",
        ),
      ),
    webhook: z
      .optional(
        z.strictObject({
          url: z
            .string({ error: 'must be a string' })
            .check(
              z.describe(
                'An https URL (a public address); signed POSTs per Standard Webhooks are sent to it.',
              ),
            ),
          events: z
            .optional(
              z
                .array(
                  z.enum(WEBHOOK_EVENTS, { error: `must be one of ${WEBHOOK_EVENTS.join(', ')}` }),
                )
                .check(z.minLength(1, 'must name at least one event')),
            )
            .check(
              z.describe(
                `Which events to send; default ${DEFAULT_WEBHOOK_EVENTS.join(', ')} (how the job ended).`,
              ),
            ),
        }),
      )
      .check(
        z.describe(
          "Where to announce the job's events (see GET /webhooks/secret for the signing secret).",
        ),
      ),
  })
  .check(z.meta({ title: 'VideoRequest', description: 'A request to generate one video.' }));

/** The request after validation: prompt trimmed, seconds a string. */
export type VideoRequest = z.output<typeof videoRequestSchema>;

/** Validates a request, throwing ValidationError naming the first bad field (`body` if not an object). */
export function parseVideoRequest(input: unknown): VideoRequest {
  const result = videoRequestSchema.safeParse(input);
  if (result.success) return result.data;
  throw validationErrorOf(result.error);
}

/**
 * The ValidationError of a failed parse, naming its first bad field: a key the schema does not
 * know, the path of a bad value, or `root` when the input itself is not an object (a request
 * body; the API's path, query and header objects are built by the handler and always are).
 */
export function validationErrorOf(error: z.core.$ZodError, root = 'body'): ValidationError {
  const issue = error.issues[0];
  if (issue === undefined)
    return new ValidationError(root, `${root}: is invalid`, { cause: error });
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? root;
    return new ValidationError(field, `${field}: is not a known field`, { cause: error });
  }
  if (issue.path.length === 0) {
    return new ValidationError(root, `${root}: must be a JSON object`, { cause: error });
  }
  const field = issue.path.map(String).join('.');
  return new ValidationError(field, `${field}: ${issue.message}`, { cause: error });
}
