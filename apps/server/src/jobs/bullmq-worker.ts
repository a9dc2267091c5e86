/**
 * A BullMQ worker: takes jobs that API processes put in Redis ({@link BullMqQueue}) and runs them
 * with a {@link JobProcessor} (the Scorer of a model loaded once per process), at most
 * `concurrency` at a time. `vqlm-server --worker` runs one.
 *
 * - Progress reported by the processor goes to the job (`job.updateProgress`), so the API shows it.
 * - A vqlm input error (`E_…` code other than `E_INTERNAL`) fails the job at once; any other error
 *   is retried by BullMQ with backoff until the job's attempts are used up.
 * - The lock of a running job is renewed every `lockDurationMs / 2`; when this process dies, the
 *   lock expires and another worker's stalled-job check (every `stalledIntervalMs`) hands the job
 *   to the next worker. A job is started at most `attempts` times, then failed.
 * - The files a job owns (its upload directory in the shared spool) are removed when the job
 *   completes or finally fails, never while another attempt may still need them. After each run
 *   the worker also reads the job's state back from Redis until it is settled, so that a
 *   completion whose reply was lost to a Redis outage (recorded in Redis, but no `completed`
 *   event here) still removes the files.
 * - {@link BullMqWorker.close} stops taking jobs and waits for the running ones; when the wait
 *   times out, the running jobs are handed back to the waiting list for another worker.
 */
import { rm } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULT_ATTEMPTS, DEFAULT_PREFIX, DEFAULT_QUEUE_NAME, type BullMqJobData, type BullMqSettings } from './bullmq-queue.js';
import { toJobError } from './in-process-queue.js';
import type { JobProcessor } from './queue.js';

/** Options of {@link BullMqWorker}. */
export interface BullMqWorkerOptions extends BullMqSettings {
  /** Runs one job (see `createScorerProcessor`). */
  readonly processor: JobProcessor;
  /** Jobs run at once by this process (default 1). */
  readonly concurrency?: number;
  /** Times a job is started at most, across all workers (default 3; use the API's value). */
  readonly attempts?: number;
  /** Lock time of a running job; a dead worker's job is reclaimed after about this long (default 30 s). */
  readonly lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died (default 15 s). */
  readonly stalledIntervalMs?: number;
  /** Removes one owned path (default `rm -rf`). */
  readonly removeOwned?: (path: string) => Promise<void>;
  /**
   * Only owned paths inside this directory (the shared spool) are removed; others are left alone
   * and logged. Guards against a job in Redis naming any other path. Default: no restriction.
   */
  readonly ownedRoot?: string;
  /** One line per event (job started, finished, handed back, Redis errors). Default: nothing. */
  readonly log?: (line: string) => void;
  /** Extra ioredis options. */
  readonly redis?: RedisOptions;
}

/** What {@link BullMqWorker.close} did with the jobs that were running. */
export interface WorkerCloseResult {
  /** Jobs that finished during the drain. */
  readonly drained: boolean;
  /** Ids of the jobs handed back to the waiting list because the drain timed out. */
  readonly handedBack: readonly string[];
}

interface Running {
  readonly job: Job<BullMqJobData>;
  readonly token: string | undefined;
}

/** How long after a run the worker reads the job's state back (and between tries while Redis is down). */
const SETTLE_CHECK_DELAY_MS = 2000;

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name}: expected an integer ≥ ${min}, got ${value}`);
  return value;
}

/** True for an error that another attempt cannot fix (a vqlm input error). */
export function isInputError(code: string): boolean {
  return code.startsWith('E_') && code !== 'E_INTERNAL';
}

export class BullMqWorker {
  readonly worker: Worker<BullMqJobData>;
  private readonly connection: Redis;
  private readonly processor: JobProcessor;
  private readonly removeOwned: (path: string) => Promise<void>;
  private readonly ownedRoot: string | undefined;
  private readonly log: (line: string) => void;
  private readonly running = new Map<string, Running>();
  private readonly handedBack = new Set<string>();
  private closing: Promise<WorkerCloseResult> | undefined;
  /** File removals under way (awaited by close). */
  private readonly pending = new Set<Promise<void>>();
  /** Jobs whose files the `completed` / `failed` event removed, until their state check has run. */
  private readonly cleaned = new Set<string>();
  /** Timers of the state checks after a run (cleared by close). */
  private readonly checks = new Set<NodeJS.Timeout>();

  constructor(options: BullMqWorkerOptions) {
    if (typeof options.redisUrl !== 'string' || options.redisUrl === '') throw new TypeError('redisUrl: expected a redis:// URL');
    this.processor = options.processor;
    this.removeOwned = options.removeOwned ?? ((path) => rm(path, { recursive: true, force: true }));
    this.log = options.log ?? (() => undefined);
    this.ownedRoot = options.ownedRoot === undefined ? undefined : resolve(options.ownedRoot);
    const attempts = positiveInt('attempts', options.attempts ?? DEFAULT_ATTEMPTS, 1);
    const lockDuration = positiveInt('lockDurationMs', options.lockDurationMs ?? 30_000, 100);
    this.connection = new Redis(options.redisUrl, { ...options.redis, maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    this.worker = new Worker<BullMqJobData>(options.queueName ?? DEFAULT_QUEUE_NAME, (job, token) => this.run(job, token), {
      connection: this.connection,
      prefix: options.prefix ?? DEFAULT_PREFIX,
      concurrency: positiveInt('concurrency', options.concurrency ?? 1, 1),
      lockDuration,
      stalledInterval: positiveInt('stalledIntervalMs', options.stalledIntervalMs ?? 15_000, 100),
      // Stalls never fail a job by themselves: every start counts, and the start after the last
      // allowed one fails the job (in this worker, so its files are removed here).
      maxStalledCount: attempts + 1,
      maxStartedAttempts: attempts,
      // after a Redis outage, retry finishing a job within seconds (BullMQ's default waits 15 s)
      runRetryDelay: 2000,
      autorun: true,
    });
    let lastError = '';
    this.worker.on('error', (error) => {
      // ioredis repeats the same connection error while Redis is down; log each kind once.
      if (error.message !== lastError) this.log(`worker: ${error.message}`);
      lastError = error.message;
    });
    this.worker.on('ready', () => {
      lastError = '';
    });
    this.worker.on('completed', (job) => {
      this.log(`job ${job.id}: completed`);
      this.track(this.cleanup(job));
    });
    this.worker.on('failed', (job, error) => {
      if (!job) return;
      // BullMQ sets finishedOn only when the job is finally failed (not when it will be retried)
      if (!job.finishedOn) {
        this.log(`job ${job.id}: attempt failed (${error.message}); retried`);
        return;
      }
      this.log(`job ${job.id}: failed (${error.message})`);
      this.track(this.cleanup(job));
    });
  }

  /** Resolves once the worker is connected to Redis. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /** Jobs running in this process now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Stops taking jobs and waits up to `timeoutMs` (default 30 s) for the running ones; then hands
   * whatever still runs back to the waiting list (its scoring cannot be interrupted: exit the
   * process after a hand-back) and disconnects.
   */
  close(options: { timeoutMs?: number } = {}): Promise<WorkerCloseResult> {
    this.closing ??= this.doClose(options.timeoutMs ?? 30_000);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<WorkerCloseResult> {
    for (const timer of this.checks) clearTimeout(timer);
    this.checks.clear();
    const closed = this.worker.close().then(
      () => true,
      () => true,
    );
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([closed, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
    clearTimeout(timer);
    if (drained) {
      await Promise.all(this.pending);
      this.connection.disconnect();
      return { drained: true, handedBack: [] };
    }
    const handedBack: string[] = [];
    for (const [id, { job, token }] of this.running) {
      this.handedBack.add(id);
      try {
        await job.moveToWait(token);
        handedBack.push(id);
        this.log(`job ${id}: handed back (shutdown)`);
      } catch (error) {
        this.log(`job ${id}: could not hand back (${error instanceof Error ? error.message : String(error)}); another worker reclaims it when its lock expires`);
      }
    }
    await Promise.all(this.pending);
    this.connection.disconnect();
    return { drained: false, handedBack };
  }

  private async run(job: Job<BullMqJobData>, token: string | undefined): Promise<unknown> {
    const id = String(job.id);
    this.running.set(id, { job, token });
    this.log(`job ${id}: ${job.data.kind} started (attempt ${job.attemptsStarted})`);
    try {
      return await this.processor(job.data, (progress) => {
        if (Number.isFinite(progress)) job.updateProgress(Math.min(1, Math.max(0, progress))).catch(() => undefined);
      });
    } catch (thrown) {
      const error = toJobError(thrown);
      // The worker writes the last error into the job so the API reads its code, not only the message.
      await job.updateData({ ...job.data, lastError: error }).catch(() => undefined);
      if (isInputError(error.code)) throw new UnrecoverableError(error.message);
      throw thrown instanceof Error ? thrown : new Error(error.message);
    } finally {
      this.running.delete(id);
      this.settleLater(job, 0);
    }
  }

  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /**
   * Reads the job's state back from Redis a little after a run (and again while Redis cannot be
   * reached, up to ~2 min): a finished job (`completed`, `failed`) or one Redis no longer has has
   * its files removed; a job waiting for another attempt keeps them.
   */
  private settleLater(job: Job<BullMqJobData>, tries: number): void {
    if (this.closing || tries > 60) return;
    const timer = setTimeout(() => {
      this.checks.delete(timer);
      const id = String(job.id);
      // Its files are gone already, it was handed back, or it runs here again (that run checks).
      if (this.cleaned.delete(id) || this.handedBack.has(id) || this.running.has(id)) return;
      job.getState().then(
        (state) => {
          const settled = state === 'completed' || state === 'failed' || state === 'unknown';
          if (settled && !this.cleaned.delete(id)) {
            this.log(`job ${id}: ${state} in Redis without an event here; removing its files`);
            this.track(this.cleanup(job).then(() => void this.cleaned.delete(id)));
          }
        },
        () => this.settleLater(job, tries + 1),
      );
    }, SETTLE_CHECK_DELAY_MS);
    this.checks.add(timer);
  }

  private async cleanup(job: Job<BullMqJobData>): Promise<void> {
    if (this.handedBack.has(String(job.id))) return;
    this.cleaned.add(String(job.id));
    const root = this.ownedRoot;
    const owned = (job.data.owned ?? []).filter((path) => {
      const inside = root === undefined || (typeof path === 'string' && resolve(path).startsWith(root + sep));
      if (!inside) this.log(`job ${job.id}: not removing ${JSON.stringify(path)}: outside the spool directory ${root}`);
      return inside;
    });
    await Promise.all(owned.map((path) => this.removeOwned(path).catch(() => undefined)));
  }
}
