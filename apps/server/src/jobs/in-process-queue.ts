/**
 * The default {@link JobQueue}: jobs run in this process with bounded concurrency and a bounded
 * waiting list. Finished records are kept for a TTL and up to a count, then forgotten. The files a
 * job owns are removed when it ends, whatever the outcome, and when a queued job is cancelled by
 * `close()`.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import {
  QueueFullError,
  type JobError,
  type JobInput,
  type JobProcessor,
  type JobQueue,
  type JobRecord,
  type JobState,
} from './queue.js';

export interface InProcessQueueOptions {
  /** Runs one job; its resolved value is the job's result, a throw fails the job. */
  readonly processor: JobProcessor;
  /** Jobs running at once (default 1). */
  readonly concurrency?: number;
  /** Jobs waiting to start; `add` throws {@link QueueFullError} beyond it (default 16). */
  readonly maxQueued?: number;
  /** How long a finished record stays readable (default 15 min). */
  readonly finishedTtlMs?: number;
  /** At most this many finished records are kept; the oldest go first (default 1000). */
  readonly maxFinished?: number;
  /** Removes one owned path (default: `rm -rf`). */
  readonly removeOwned?: (path: string) => Promise<void>;
}

interface Entry {
  record: MutableRecord;
  input: JobInput;
}

type MutableRecord = { -readonly [K in keyof JobRecord]: JobRecord[K] };

/** Error code of a queued job cancelled by `close()`. */
export const E_SHUTDOWN = 'E_SHUTDOWN';

/** The code and message of any thrown value (`code` when the error has a string one). */
export function toJobError(error: unknown): JobError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' && code !== '' ? code : 'E_INTERNAL', message: error.message };
  }
  return { code: 'E_INTERNAL', message: String(error) };
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name}: expected an integer ≥ ${min}, got ${value}`);
  return value;
}

export class InProcessQueue implements JobQueue {
  private readonly processor: JobProcessor;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly finishedTtlMs: number;
  private readonly maxFinished: number;
  private readonly removeOwned: (path: string) => Promise<void>;
  private readonly records = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly finished: { id: string; at: number }[] = [];
  private readonly events = new EventEmitter();
  private closed = false;
  /** Moving average of job run time (ms), for Retry-After. */
  private averageMs = 0;

  constructor(options: InProcessQueueOptions) {
    this.processor = options.processor;
    this.concurrency = positiveInt('concurrency', options.concurrency ?? 1, 1);
    this.maxQueued = positiveInt('maxQueued', options.maxQueued ?? 16, 0);
    this.finishedTtlMs = options.finishedTtlMs ?? 15 * 60_000;
    this.maxFinished = positiveInt('maxFinished', options.maxFinished ?? 1000, 1);
    this.removeOwned = options.removeOwned ?? ((path) => rm(path, { recursive: true, force: true }));
    this.events.setMaxListeners(0);
  }

  add(input: JobInput): Promise<JobRecord> {
    if (this.closed) return Promise.reject(Object.assign(new Error('the queue is closed (shutting down)'), { code: E_SHUTDOWN }));
    const free = this.running.size < this.concurrency && this.waiting.length === 0;
    if (!free && this.waiting.length >= this.maxQueued) {
      const perJob = this.averageMs > 0 ? this.averageMs / 1000 : 5;
      const retry = (perJob * (this.waiting.length + 1)) / this.concurrency;
      return Promise.reject(new QueueFullError(`queue full: ${this.waiting.length} jobs waiting, ${this.running.size} running`, retry));
    }
    const record: MutableRecord = {
      id: randomUUID(),
      kind: input.kind,
      state: 'queued',
      progress: 0,
      createdAt: new Date().toISOString(),
      attempts: 0,
    };
    const entry: Entry = { record, input };
    this.records.set(record.id, entry);
    this.waiting.push(entry);
    this.pump();
    return Promise.resolve(snapshot(entry.record));
  }

  get(id: string): Promise<JobRecord | null> {
    this.prune();
    const entry = this.records.get(id);
    return Promise.resolve(entry ? snapshot(entry.record) : null);
  }

  depth(): Promise<{ waiting: number; active: number }> {
    return Promise.resolve({ waiting: this.waiting.length, active: this.running.size });
  }

  on(event: 'finished', listener: (record: JobRecord) => void): void {
    this.events.on(event, listener);
  }

  async close(options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.closed = true;
    const cancelled = this.waiting.splice(0);
    await Promise.all(
      cancelled.map((entry) =>
        this.finish(entry, 'failed', undefined, { code: E_SHUTDOWN, message: 'the server shut down before the job started' }),
      ),
    );
    if (options.drain === false || this.running.size === 0) return;
    const all = Promise.all(this.running.values()).then(() => undefined);
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift() as Entry;
      const run = this.run(entry).finally(() => {
        this.running.delete(entry.record.id);
        this.pump();
      });
      this.running.set(entry.record.id, run);
    }
  }

  private async run(entry: Entry): Promise<void> {
    const { record } = entry;
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    record.attempts += 1;
    const started = performance.now();
    const report = (progress: number): void => {
      if (record.state === 'running' && Number.isFinite(progress)) record.progress = Math.min(1, Math.max(record.progress, progress));
    };
    let result: unknown;
    let error: JobError | undefined;
    try {
      result = await this.processor(entry.input, report);
    } catch (thrown) {
      error = toJobError(thrown);
    }
    const elapsed = performance.now() - started;
    this.averageMs = this.averageMs === 0 ? elapsed : 0.8 * this.averageMs + 0.2 * elapsed;
    await this.finish(entry, error ? 'failed' : 'completed', result, error);
  }

  private async finish(entry: Entry, state: JobState, result: unknown, error: JobError | undefined): Promise<void> {
    await Promise.all(entry.input.owned.map((path) => this.removeOwned(path).catch(() => undefined)));
    const { record } = entry;
    record.state = state;
    record.finishedAt = new Date().toISOString();
    if (state === 'completed') {
      record.progress = 1;
      record.result = result;
    } else if (error) {
      record.error = error;
    }
    this.finished.push({ id: record.id, at: Date.now() });
    this.prune();
    this.events.emit('finished', snapshot(record));
  }

  private prune(): void {
    const cutoff = Date.now() - this.finishedTtlMs;
    while (this.finished.length > 0 && (this.finished.length > this.maxFinished || this.finished[0].at < cutoff)) {
      const gone = this.finished.shift() as { id: string };
      this.records.delete(gone.id);
    }
  }
}

function snapshot(record: MutableRecord): JobRecord {
  return Object.freeze({ ...record });
}
