import { describe, expect, it } from 'vitest';
import { ApiError, describeApiError } from './api-client.js';

describe('describeApiError (the sentences the web page shows)', () => {
  it('413: says the file is too large, with the server’s limit', () => {
    expect(describeApiError(new ApiError(413, 'E_PAYLOAD_TOO_LARGE', 'upload larger than the limit of 1000 bytes'))).toBe(
      'The file is too large for this server. upload larger than the limit of 1000 bytes',
    );
  });

  it('422: says the file is not a readable video, with the reason', () => {
    expect(describeApiError(new ApiError(422, 'E_NOT_VIDEO', 'video "x.mp4": not a readable video file'))).toMatch(/^This is not a video the server can read\. video "x\.mp4"/);
  });

  it('429: says the server is busy and when to retry (Retry-After)', () => {
    expect(describeApiError(new ApiError(429, 'E_QUEUE_FULL', 'queue full: 16 jobs waiting', 12))).toBe('The server is busy (queue full). Try again in 12 s.');
    expect(describeApiError(new ApiError(429, 'E_QUEUE_FULL', 'queue full'))).toBe('The server is busy (queue full). Try again later.');
  });

  it('a failed job, a network failure and other statuses', () => {
    expect(describeApiError(new ApiError(200, 'E_JOB_FAILED', 'decode failed (E_DECODE)'))).toBe('Scoring failed: decode failed (E_DECODE)');
    expect(describeApiError(new ApiError(0, 'E_NETWORK', 'the connection failed'))).toBe('Could not reach the server: the connection failed');
    expect(describeApiError(new ApiError(500, 'E_INTERNAL', 'internal error'))).toBe('Request failed (500 E_INTERNAL): internal error');
  });
});
