import type { Job } from '../../functions/shared/jobs/job.ts';

/** A valid QUEUED job; override what the test is about. */
export function aJob(overrides: Partial<Job> = {}): Job {
  return {
    jobId: 'job_01JZ0000000000000000000000',
    status: 'QUEUED',
    source: 'api',
    prompt: 'A red fox running through fresh snow at dawn',
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    deferred: false,
    requestHash: 'a'.repeat(64),
    estimatedCostUsd: 0.4,
    createdAt: '2026-01-02T03:04:05.000Z',
    updatedAt: '2026-01-02T03:04:05.000Z',
    progress: 0,
    pollCount: 0,
    ...overrides,
  };
}
