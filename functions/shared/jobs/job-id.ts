import { randomBytes } from 'node:crypto';
import { now as pipelineNow } from '../clock.ts';

/**
 * Job ids: `job_` + a ULID (48-bit millisecond time, 80 random bits, Crockford base32). They sort
 * by creation time as plain strings and are valid Step Functions execution names
 * (`[A-Za-z0-9_-]`, at most 80 characters), which is what lets the execution name be the job id.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const PREFIX = 'job_';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

const JOB_ID_PATTERN = new RegExp(`^${PREFIX}[${CROCKFORD}]{${TIME_CHARS + RANDOM_CHARS}}$`);

/** A new job id for the given creation time. */
export function newJobId(now: Date = pipelineNow()): string {
  let time = now.getTime();
  if (!Number.isInteger(time) || time < 0 || time >= 2 ** 48) {
    throw new RangeError('Job id time must be a valid date after 1970');
  }
  let timePart = '';
  for (let i = 0; i < TIME_CHARS; i += 1) {
    timePart = CROCKFORD.charAt(time % 32) + timePart;
    time = Math.floor(time / 32);
  }
  // 16 bytes, 5 bits of each: 80 random bits.
  const randomPart = [...randomBytes(RANDOM_CHARS)].map((byte) => CROCKFORD.charAt(byte % 32));
  return `${PREFIX}${timePart}${randomPart.join('')}`;
}

/** Whether `value` has the shape of a job id (says nothing about whether the job exists). */
export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}
