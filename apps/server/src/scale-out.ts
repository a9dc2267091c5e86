/**
 * Scale-out mode (`REDIS_URL` set): the API process puts jobs on a BullMQ queue in Redis and does
 * not score (unless `--local-worker`); `vqlm-server --worker` processes, on any machine that
 * reaches the same Redis and the same spool directory, load the model once and run the jobs.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Scorer } from '@vqlm/models';
import type { BackendName } from '@vqlm/runtime';
import type { ServerConfig } from './config.js';
import { BullMqQueue } from './jobs/bullmq-queue.js';
import { BullMqWorker } from './jobs/bullmq-worker.js';
import { createScorerProcessor } from './jobs/processor.js';
import { loadScorer, resolveModelDir, type ScoringEngine } from './model.js';
import { buildServer } from './server.js';

/** The flags of `vqlm-server` that scale-out mode reads. */
export interface ScaleOutCliOptions {
  readonly redisUrl?: string;
  readonly model?: string;
  readonly backend?: BackendName;
  readonly engine?: ScoringEngine;
  readonly port: number;
  readonly host: string;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly jobTtlS: number;
  readonly drainTimeoutMs: number;
  readonly logLevel: string;
  readonly attempts: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly localWorker?: boolean;
  readonly spoolDir: string;
}

/** What the runners need from `main.ts`. */
export interface ScaleOutContext {
  /** Server settings from the flags (spool dir, limits). */
  readonly config: Partial<ServerConfig>;
  /** Resolves at SIGTERM/SIGINT. */
  readonly signal: Promise<NodeJS.Signals>;
  /** Extra Fastify plugins (the web page). */
  readonly plugins?: readonly FastifyPluginAsync[];
}

function workerOptions(options: ScaleOutCliOptions, redisUrl: string) {
  return {
    redisUrl,
    concurrency: options.concurrency,
    attempts: options.attempts,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    ownedRoot: options.spoolDir,
  };
}

/** The API of scale-out mode: jobs go to Redis; returns the exit code after SIGTERM/SIGINT. */
export async function runRedisApi(options: ScaleOutCliOptions, context: ScaleOutContext): Promise<number> {
  const redisUrl = options.redisUrl ?? '';
  const queue = new BullMqQueue({ redisUrl, maxQueued: options.maxQueue, attempts: options.attempts, keepCompletedSeconds: options.jobTtlS });
  let scorer: Scorer | undefined;
  let worker: BullMqWorker | undefined;
  const server = await buildServer({
    queue,
    config: context.config,
    // ready while Redis is reachable (and, with a local worker, once its model is loaded)
    isReady: () => queue.connected && (!options.localWorker || worker !== undefined),
    logger: { level: options.logLevel },
    plugins: context.plugins,
  });
  const { app } = server;
  queue.on('finished', (record) => app.log.info({ job: record.id, kind: record.kind, state: record.state, error: record.error?.code }, 'job finished'));
  const url = await server.listen({ port: options.port, host: options.host });
  app.log.info({ url, mode: 'redis', localWorker: options.localWorker === true }, 'listening; jobs go to Redis');
  if (options.localWorker) {
    const modelDir = resolveModelDir(options.model);
    try {
      scorer = await loadScorer(modelDir, { backend: options.backend, engine: options.engine, log: (line) => app.log.info(line) });
    } catch (error) {
      app.log.error({ err: error, model: modelDir }, 'cannot load the model');
      await server.shutdown({ drainTimeoutMs: 0 });
      return 1;
    }
    worker = new BullMqWorker({ ...workerOptions(options, redisUrl), processor: createScorerProcessor(scorer), log: (line) => app.log.info(line) });
    app.log.info({ model: modelDir }, 'local worker running');
  }
  const received = await context.signal;
  app.log.info({ signal: received }, 'shutting down');
  await server.shutdown();
  if (worker) await worker.close({ timeoutMs: options.drainTimeoutMs });
  await scorer?.dispose();
  app.log.info('stopped');
  return 0;
}

/**
 * `vqlm-server --worker`: loads the model once and runs jobs from Redis until SIGTERM/SIGINT,
 * then finishes the running jobs (up to the drain timeout) or hands them back, and exits 0.
 * Logs one line per event on stderr.
 */
export async function runWorker(options: ScaleOutCliOptions, context: Pick<ScaleOutContext, 'signal'>, log: (line: string) => void = (line) => process.stderr.write(`vqlm-server worker: ${line}\n`)): Promise<number> {
  if (!options.redisUrl) {
    process.stderr.write('vqlm-server: --worker needs a Redis URL (--redis-url or REDIS_URL)\n');
    return 2;
  }
  const modelDir = resolveModelDir(options.model);
  let scorer: Scorer;
  try {
    scorer = await loadScorer(modelDir, { backend: options.backend, engine: options.engine, log });
  } catch (error) {
    process.stderr.write(`vqlm-server: cannot load the model ${modelDir}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const worker = new BullMqWorker({ ...workerOptions(options, options.redisUrl), processor: createScorerProcessor(scorer), log });
  let stopped = false;
  const ready = worker.ready().then(
    () => !stopped && log(`ready (model ${modelDir}, concurrency ${options.concurrency})`),
    () => undefined,
  );
  const received = await context.signal;
  stopped = true;
  log(`${received}: finishing ${worker.active} running job(s) (up to ${options.drainTimeoutMs} ms)`);
  const closed = await worker.close({ timeoutMs: options.drainTimeoutMs });
  await ready;
  log(closed.drained ? 'stopped' : `stopped; handed back ${closed.handedBack.join(', ') || 'nothing'}`);
  if (closed.drained) await scorer.dispose();
  return 0;
}
