/**
 * The job queue contract shared by the in-process queue (default) and the
 * BullMQ/Redis queue (scale-out mode). The HTTP layer only talks to this.
 */
export type JobKind = 'score' | 'compare' | 'describe';

export interface JobInput {
  readonly kind: JobKind;
  readonly videos: readonly string[];
  /** files the job owns and deletes when done */
  readonly owned: readonly string[];
  readonly describe?: boolean;
}

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

export interface JobError {
  readonly code: string;
  readonly message: string;
}

export interface JobRecord {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly progress: number;
  readonly result?: unknown;
  readonly error?: JobError;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly attempts: number;
}

export type JobProcessor = (input: JobInput, report: (progress: number) => void) => Promise<unknown>;

/** Thrown by `JobQueue.add` when the waiting list is full; answered as 429 + Retry-After. */
export class QueueFullError extends Error {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'QueueFullError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

export interface JobQueue {
  /** Queue a job; throws QueueFullError when full. */
  add(input: JobInput): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | null>;
  depth(): Promise<{ waiting: number; active: number }>;
  /** stop taking jobs; drain: wait for running ones (up to timeoutMs) */
  close(options?: { drain?: boolean; timeoutMs?: number }): Promise<void>;
  on?(event: 'finished', listener: (record: JobRecord) => void): void;
}

/** True for a record in a final state. */
export function isFinished(record: JobRecord): boolean {
  return record.state === 'completed' || record.state === 'failed';
}
