import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { CONTENT_LINK_TTL_SECONDS } from '../../../functions/api/content-link.ts';
import { createContentLink } from '../../../functions/api/presigned-content-link.ts';

describe('createContentLink', () => {
  it('presigns a GET of the key in the videos bucket that expires within 15 minutes', async () => {
    const s3 = new S3Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const link = createContentLink(s3, 'videos-bucket');

    const url = new URL(await link('videos/job_1.mp4'));

    expect(url.hostname).toBe('videos-bucket.s3.us-east-1.amazonaws.com');
    expect(url.pathname).toBe('/videos/job_1.mp4');
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(CONTENT_LINK_TTL_SECONDS));
    expect(CONTENT_LINK_TTL_SECONDS).toBeLessThanOrEqual(15 * 60);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});
