/** JSON schemas of the API (request validation, response serialisation, the OpenAPI document). */

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const scoreResult = {
  type: 'object',
  required: ['score', 'level', 'perFrame', 'rawScore', 'frames'],
  properties: {
    score: { type: 'number', description: 'calibrated MOS, 1–5' },
    level: { type: 'string', enum: ['bad', 'poor', 'fair', 'good', 'excellent'] },
    perFrame: { type: 'array', items: { type: 'number' } },
    rawScore: { type: 'number' },
    members: { type: 'array', items: { type: 'number' }, description: "an ensemble model's member scores (score is their mean)" },
    frames: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'time'],
        properties: { index: { type: 'integer' }, time: { type: 'number' } },
      },
    },
    description: { type: 'string' },
  },
} as const;

export const scoreResultSchema = { $id: 'ScoreResult', ...scoreResult } as const;

export const compareResultSchema = {
  $id: 'CompareResult',
  type: 'object',
  required: ['a', 'b', 'difference', 'better'],
  properties: {
    a: { $ref: 'ScoreResult#' },
    b: { $ref: 'ScoreResult#' },
    difference: { type: 'number', description: 'a.score − b.score' },
    better: { type: 'string', enum: ['a', 'b', 'tie'] },
    description: { type: 'string' },
  },
} as const;

export const describeResultSchema = {
  $id: 'DescribeResult',
  type: 'object',
  required: ['description'],
  properties: { description: { type: 'string' } },
} as const;

export const jobSchema = {
  $id: 'Job',
  type: 'object',
  required: ['id', 'kind', 'state', 'progress', 'createdAt', 'attempts', 'links'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['score', 'compare', 'describe'] },
    state: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    result: { anyOf: [{ $ref: 'CompareResult#' }, { $ref: 'ScoreResult#' }, { $ref: 'DescribeResult#' }] },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    createdAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    attempts: { type: 'integer', minimum: 0 },
    links: {
      type: 'object',
      required: ['self'],
      properties: { self: { type: 'string' } },
    },
  },
} as const;

export const sharedSchemas = [errorSchema, scoreResultSchema, compareResultSchema, describeResultSchema, jobSchema];

const errorRef = { $ref: 'Error#' } as const;

/** Error responses every job-submitting route may give. */
export const submitErrors = {
  400: { description: 'bad request (missing field, unknown field, bad JSON)', ...errorRef },
  403: { description: 'path outside the media root, absolute, with "..", or path input disabled', ...errorRef },
  404: { description: 'path does not exist under the media root', ...errorRef },
  408: { description: 'the request was not received within the request timeout', ...errorRef },
  413: { description: 'upload larger than the limit', ...errorRef },
  415: { description: 'neither multipart/form-data nor application/json', ...errorRef },
  422: { description: 'not a usable video (zero bytes, not media, truncated, no video stream)', ...errorRef },
  429: { description: 'queue full; retry after the Retry-After header (seconds)', ...errorRef },
  503: { description: 'model not loaded yet, or the server is shutting down', ...errorRef },
} as const;

/** JSON bodies of the submitting routes (multipart is documented beside them). */
export function jsonBody(kind: 'score' | 'compare' | 'describe'): Record<string, unknown> {
  const describe = { type: 'boolean', description: 'also generate a description (slower)' };
  if (kind === 'compare') {
    return {
      type: 'object',
      required: ['a', 'b'],
      additionalProperties: false,
      properties: {
        a: { type: 'string', minLength: 1, description: 'path relative to the media root' },
        b: { type: 'string', minLength: 1, description: 'path relative to the media root' },
        describe,
      },
    };
  }
  return {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', minLength: 1, description: 'path relative to the media root' },
      ...(kind === 'score' ? { describe } : {}),
    },
  };
}

/** The multipart form of the submitting routes (documentation only: multipart is parsed by hand). */
export function multipartBody(kind: 'score' | 'compare' | 'describe'): Record<string, unknown> {
  const file = { type: 'string', format: 'binary' };
  const describe = { type: 'string', enum: ['true', 'false'] };
  if (kind === 'compare') return { type: 'object', required: ['a', 'b'], properties: { a: file, b: file, describe } };
  return { type: 'object', required: ['video'], properties: { video: file, ...(kind === 'score' ? { describe } : {}) } };
}
