/**
 * The scale-out {@link JobQueue}: jobs live in Redis (BullMQ) and run in `vqlm-server --worker`
 * processes, on this machine or others. The API process only adds and reads jobs; it never
 * scores. Records (state, progress, result, error) are read back by id from Redis, so any API
 * process behind a load balancer answers for any job.
 *
 * Delivery: a job is started at most `attempts` times. A worker that dies mid-job (SIGKILL, OOM,
 * lost machine) stops renewing the job's lock; another worker's stalled-job check puts the job
 * back in the waiting list and it is started again. A job that fails with a vqlm input error
 * (a typed `E_…` code other than `E_INTERNAL`) fails at once; other failures are retried with
 * exponential backoff. After the last attempt the job is `failed` with the last error, never lost
 * and never left `running`: an active job whose lock has expired (its worker is gone and no live
 * worker has reclaimed it yet) is reported as `queued`.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { HttpError } from '../errors.js';
import { QueueFullError, type JobError, type JobInput, type JobQueue, type JobRecord, type JobState } from './queue.js';

/** BullMQ settings shared by {@link BullMqQueue} and the workers (they must agree). */
export interface BullMqSettings {
  /** Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS). */
  readonly redisUrl: string;
  /** BullMQ queue name (default `vqlm-jobs`). */
  readonly queueName?: string;
  /** Redis key prefix (default `vqlm`). */
  readonly prefix?: string;
}

/** Options of {@link BullMqQueue}. */
export interface BullMqQueueOptions extends BullMqSettings {
  /** Jobs waiting to start; `add` throws {@link QueueFullError} beyond it (default 64). */
  readonly maxQueued?: number;
  /** Times a job is started at most (default 3). */
  readonly attempts?: number;
  /** First retry delay after a failed attempt, doubled each time (default 1000 ms). */
  readonly backoffMs?: number;
  /** How long a completed job stays readable (default 1 h). */
  readonly keepCompletedSeconds?: number;
  /** How long a failed job stays readable (default 24 h). */
  readonly keepFailedSeconds?: number;
  /** Extra ioredis options for the API's connection. */
  readonly redis?: RedisOptions;
}

/** The data of a BullMQ job: the job input, plus the last attempt's error (written by the worker). */
export interface BullMqJobData extends JobInput {
  readonly lastError?: JobError;
}

/** Error code when Redis cannot be reached (answered as 503). */
export const E_QUEUE_UNAVAILABLE = 'E_QUEUE_UNAVAILABLE';

export const DEFAULT_QUEUE_NAME = 'vqlm-jobs';
export const DEFAULT_PREFIX = 'vqlm';
export const DEFAULT_ATTEMPTS = 3;

/** Failure reasons BullMQ writes itself, mapped to codes. */
const BULLMQ_REASONS: readonly { readonly pattern: RegExp; readonly code: string; readonly message: string }[] = [
  {
    pattern: /started more than allowable limit/,
    code: 'E_JOB_ATTEMPTS',
    message: 'the job was started the maximum number of times and no worker finished it (workers stopped or died mid-job)',
  },
  { pattern: /stalled more than allowable limit/, code: 'E_JOB_STALLED', message: 'the job stalled too often (workers stopped or died mid-job)' },
];

/** Redis could not be reached: the API answers 503 with `Retry-After: 5`. */
export class QueueUnavailableError extends HttpError {
  constructor(cause: unknown) {
    super(503, E_QUEUE_UNAVAILABLE, `the job queue (Redis) is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { 'retry-after': '5' });
    this.cause = cause;
  }
}

/** The code and message of a failed BullMQ job. */
export function failedJobError(job: Pick<Job, 'data' | 'failedReason'>): JobError {
  const reason = job.failedReason ?? '';
  for (const known of BULLMQ_REASONS) if (known.pattern.test(reason)) return { code: known.code, message: known.message };
  const last = (job.data as BullMqJobData | undefined)?.lastError;
  if (last) return last;
  return { code: 'E_INTERNAL', message: reason || 'the job failed' };
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name}: expected an integer ≥ ${min}, got ${value}`);
  return value;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || ms === 0 ? undefined : new Date(ms).toISOString();
}

export class BullMqQueue implements JobQueue {
  readonly queue: Queue<BullMqJobData>;
  private readonly settings: Required<BullMqSettings>;
  private readonly connection: Redis;
  private readonly maxQueued: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly keepCompletedSeconds: number;
  private readonly keepFailedSeconds: number;
  private readonly events = new EventEmitter();
  private queueEvents: QueueEvents | undefined;
  private eventsConnection: Redis | undefined;
  private closed = false;

  constructor(options: BullMqQueueOptions) {
    if (typeof options.redisUrl !== 'string' || options.redisUrl === '') throw new TypeError('redisUrl: expected a redis:// URL');
    this.settings = {
      redisUrl: options.redisUrl,
      queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
      prefix: options.prefix ?? DEFAULT_PREFIX,
    };
    this.maxQueued = positiveInt('maxQueued', options.maxQueued ?? 64, 0);
    this.attempts = positiveInt('attempts', options.attempts ?? DEFAULT_ATTEMPTS, 1);
    this.backoffMs = positiveInt('backoffMs', options.backoffMs ?? 1000, 0);
    this.keepCompletedSeconds = positiveInt('keepCompletedSeconds', options.keepCompletedSeconds ?? 3600, 1);
    this.keepFailedSeconds = positiveInt('keepFailedSeconds', options.keepFailedSeconds ?? 86_400, 1);
    // Requests fail fast (one reconnect attempt) while Redis is down, so the API answers 503
    // instead of hanging; the connection itself keeps reconnecting in the background.
    this.connection = new Redis(this.settings.redisUrl, { maxRetriesPerRequest: 1, ...options.redis });
    this.connection.on('error', () => undefined);
    this.queue = new Queue<BullMqJobData>(this.settings.queueName, { connection: this.connection, prefix: this.settings.prefix });
    this.queue.on('error', () => undefined);
    this.events.setMaxListeners(0);
  }

  async add(input: JobInput): Promise<JobRecord> {
    if (this.closed) throw Object.assign(new Error('the queue is closed (shutting down)'), { code: 'E_SHUTDOWN' });
    const counts = await this.redis(() => this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'));
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    if (waiting >= this.maxQueued) {
      const active = counts.active ?? 0;
      throw new QueueFullError(`queue full: ${waiting} jobs waiting, ${active} running`, await this.retryAfter(waiting, active));
    }
    const data: BullMqJobData = {
      kind: input.kind,
      videos: [...input.videos],
      owned: [...input.owned],
      ...(input.describe === undefined ? {} : { describe: input.describe }),
    };
    const job = await this.redis(() =>
      this.queue.add(input.kind, data, {
        jobId: randomUUID(),
        attempts: this.attempts,
        backoff: { type: 'exponential', delay: this.backoffMs },
        removeOnComplete: { age: this.keepCompletedSeconds },
        removeOnFail: { age: this.keepFailedSeconds },
      }),
    );
    return this.toRecord(job, 'waiting', false);
  }

  async get(id: string): Promise<JobRecord | null> {
    if (typeof id !== 'string' || id === '') return null;
    return this.redis(async () => {
      // state first: a job read after its state is at least as new (a finished job's hash holds
      // its result by the time its state says so)
      const state = await this.queue.getJobState(id);
      const job = await Job.fromId<BullMqJobData>(this.queue, id);
      if (!job) return null;
      const locked = state === 'active' ? (await this.connection.exists(`${this.queue.toKey(id)}:lock`)) === 1 : false;
      return this.toRecord(job, state, locked);
    });
  }

  /** True while the connection to Redis is up (use as the server's `isReady`). */
  get connected(): boolean {
    return this.connection.status === 'ready';
  }

  async depth(): Promise<{ waiting: number; active: number }> {
    const counts = await this.redis(() => this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'));
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), active: counts.active ?? 0 };
  }

  /**
   * Emits the record of every job that ends (completed, or failed after its last attempt), from
   * whichever worker ran it. Starts a Redis event listener on first use.
   */
  on(event: 'finished', listener: (record: JobRecord) => void): void {
    this.events.on(event, listener);
    if (this.queueEvents || this.closed) return;
    this.eventsConnection = new Redis(this.settings.redisUrl, { maxRetriesPerRequest: null });
    this.eventsConnection.on('error', () => undefined);
    this.queueEvents = new QueueEvents(this.settings.queueName, { connection: this.eventsConnection, prefix: this.settings.prefix });
    this.queueEvents.on('error', () => undefined);
    const emit = ({ jobId }: { jobId: string }): void => {
      this.get(jobId).then(
        (record) => {
          if (record && (record.state === 'completed' || record.state === 'failed')) this.events.emit('finished', record);
        },
        () => undefined,
      );
    };
    this.queueEvents.on('completed', emit);
    this.queueEvents.on('failed', emit);
  }

  /**
   * Stops this API process's use of the queue. Jobs already in Redis stay there and the workers
   * keep running them (`drain` has nothing to wait for here).
   */
  async close(_options: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queueEvents?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    this.eventsConnection?.disconnect();
    this.connection.disconnect();
  }

  private toRecord(job: Job<BullMqJobData>, state: string, locked: boolean): JobRecord {
    let mapped: JobState;
    if (state === 'completed') mapped = 'completed';
    else if (state === 'failed') mapped = 'failed';
    else if (state === 'active' && locked) mapped = 'running';
    else mapped = 'queued';
    const progress = mapped === 'completed' ? 1 : typeof job.progress === 'number' && mapped === 'running' ? Math.min(1, Math.max(0, job.progress)) : 0;
    const startedAt = iso(job.processedOn);
    const finishedAt = mapped === 'completed' || mapped === 'failed' ? iso(job.finishedOn) : undefined;
    return Object.freeze({
      id: String(job.id),
      kind: job.data.kind,
      state: mapped,
      progress,
      ...(mapped === 'completed' ? { result: job.returnvalue as unknown } : {}),
      ...(mapped === 'failed' ? { error: failedJobError(job) } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      ...(startedAt === undefined ? {} : { startedAt }),
      ...(finishedAt === undefined ? {} : { finishedAt }),
      attempts: Math.max(job.attemptsStarted ?? 0, job.attemptsMade ?? 0),
    });
  }

  /** Seconds until a slot is likely free: mean run time of recent jobs × waiting jobs ÷ running jobs. */
  private async retryAfter(waiting: number, active: number): Promise<number> {
    let perJob = 5;
    try {
      const recent = await this.queue.getJobs(['completed'], 0, 19);
      const times = recent.filter((j) => j.finishedOn && j.processedOn).map((j) => ((j.finishedOn ?? 0) - (j.processedOn ?? 0)) / 1000);
      if (times.length > 0) perJob = Math.max(0.1, times.reduce((a, b) => a + b, 0) / times.length);
    } catch {
      // keep the default estimate
    }
    return (perJob * (waiting + 1)) / Math.max(1, active);
  }

  private async redis<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof QueueFullError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (
        this.connection.status !== 'ready' ||
        /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|max retries|MaxRetriesPerRequest|Stream isn't writeable/i.test(message)
      ) {
        throw new QueueUnavailableError(error);
      }
      throw error;
    }
  }
}
