import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  API_TOKENS_MAX_AGE_SECONDS,
  AUTHORIZER_CACHE_TTL_SECONDS,
  REVOKED_TOKEN_WORST_CASE_SECONDS,
} from '../../../functions/api/token-authorizer.ts';
import {
  COOL_DOWN_SECONDS,
  FAILURES_TO_OPEN,
} from '../../../functions/shared/admission/deployment-health.ts';
import { MAX_START_TIMEOUT_SECONDS } from '../../../functions/shared/jobs/job-request.ts';
import { DEFAULT_CLIENT_RATE } from '../../../functions/shared/limits/client-rate-config.ts';

// Figures the guide states, held equal to the constants they come from.
const guide = readFileSync(new URL('../../../docs/guide.md', import.meta.url), 'utf8');

/** The text of one `## ` section, found by the start of its heading. */
function section(heading: string): string {
  const start = guide.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`docs/guide.md has no section "## ${heading}"`);
  const end = guide.indexOf('\n## ', start + 1);
  return guide.slice(start, end < 0 ? undefined : end).replaceAll(/\s+/g, ' ');
}

describe('docs/guide.md: how long a revoked token keeps working', () => {
  it.each(['5. Deploying to AWS', '12. Clients'])(
    'section "%s" gives the worst case and the two caches it adds up',
    (heading) => {
      const text = section(heading);

      expect(text).toContain(`at most ${REVOKED_TOKEN_WORST_CASE_SECONDS} seconds`);
      expect(text).toContain(`${API_TOKENS_MAX_AGE_SECONDS} seconds`);
      expect(text).toContain(`${AUTHORIZER_CACHE_TTL_SECONDS} seconds`);
    },
  );
});

describe('docs/guide.md: the default request rate of a client', () => {
  it('is the one the API function takes when the context is silent', () => {
    const { requestsPerWindow, windowSeconds } = DEFAULT_CLIENT_RATE;

    expect(section('12. Clients')).toContain(
      `Each client may send ${requestsPerWindow} requests per ${windowSeconds}-second window`,
    );
  });
});

describe('docs/guide.md: the longest start timeout', () => {
  it('is the one the request schema accepts', () => {
    expect(section('2. The HTTP workflow')).toContain(
      `| \`startTimeoutSeconds\` | integer | no | 1 to ${MAX_START_TIMEOUT_SECONDS} (7 days)`,
    );
  });
});

describe('docs/guide.md: when a deployment is taken out and probed', () => {
  it("is the breaker's threshold and cool-down", () => {
    const text = section('9. Operating it');

    expect(text).toContain(`taken out after ${FAILURES_TO_OPEN} definite refusals in a row`);
    expect(text).toContain(`after each ${COOL_DOWN_SECONDS}-second cool-down one create probes it`);
  });
});
