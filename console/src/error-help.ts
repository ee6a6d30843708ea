/**
 * What a FAILED job's error code means and what to do about it, in the words of the guide
 * (docs/guide.md, section 7, "Failure reasons of a FAILED job").
 */
export interface ErrorHelp {
  meaning: string;
  action: string;
}

const BY_CODE: Record<string, ErrorHelp> = {
  moderation_blocked: {
    meaning: "The provider's moderation refused the prompt or the result.",
    action: 'Rewrite the prompt and submit it again.',
  },
  invalid_api_key: {
    meaning: 'The provider refused the API key.',
    action:
      'Put the right key in the provider key secret (PROVIDER_API_KEY on the local stack), then submit again.',
  },
  endpoint_not_found: {
    meaning: 'The provider has no /videos endpoint at the configured base URL.',
    action: 'Check provider:baseUrl (PROVIDER_BASE_URL on the local stack).',
  },
  insufficient_quota: {
    meaning: 'The provider account has no quota left.',
    action: 'Add credit at the provider, then submit again.',
  },
  video_generation_failed: {
    meaning: "The provider's render failed.",
    action: 'Submit the same request again.',
  },
  PollLimitReached: {
    meaning: 'The provider did not finish the job in time.',
    action: 'Submit again later.',
  },
  video_expired: {
    meaning: 'The provider lost the file before the download (a rendered video still counts).',
    action: 'Submit again.',
  },
  InvalidContentError: {
    meaning: 'The provider served something that is not an MP4; nothing was stored.',
    action: 'Report it to the provider.',
  },
  StorageError: {
    meaning: 'Writing the video to S3 failed; nothing partial was kept.',
    action: 'Submit again.',
  },
  // Submitting the same request again the same day meets the same budget: not advised.
  budget_exceeded: {
    meaning: "The day's budget could not cover the job; nothing was sent to the provider.",
    action:
      'Choose fewer seconds or a smaller size, or submit it after the budget resets at 00:00 UTC (a job dearer than the whole daily budget never fits); the operator can raise budget:dailyUsd.',
  },
  execution_lost: {
    meaning:
      "The job's workflow ended without recording an outcome and the scheduled sweep closed it.",
    action: 'Submit again.',
  },
  JobStartFailed: {
    meaning: 'The workflow could not be started.',
    action: 'Submit again.',
  },
};

const ALIASES: Record<string, string> = {
  unauthorized: 'invalid_api_key',
  forbidden: 'invalid_api_key',
  not_found: 'video_expired',
  ProviderNotFoundError: 'video_expired',
  ProviderContentExpiredError: 'video_expired',
};

const TRANSIENT =
  /^(rate_limited|server_error|ProviderTransientError|ProviderAmbiguousCreateError|RequestRateLimitedError|LimitContentionError|Lambda\.)/;

export function explainError(error: { code: string; retryable: boolean }): ErrorHelp {
  const known = BY_CODE[ALIASES[error.code] ?? error.code];
  if (known) return known;
  if (TRANSIENT.test(error.code)) {
    return {
      meaning: 'The provider or AWS stayed busy or unreachable through every retry.',
      action: 'Submit again later.',
    };
  }
  if (error.retryable) {
    return {
      meaning: 'The job failed for a reason that may not happen again.',
      action: 'Submit the same request again.',
    };
  }
  return {
    meaning:
      'The request was refused or a step is misconfigured; the same request would fail again.',
    action:
      'Read the message above: it names the reason. Fix the request, or read the functions’ logs.',
  };
}
