/**
 * `vqlm-server`: parses flags (each with an environment variable), loads the model once, runs the
 * API with its queue, and shuts down gracefully on SIGTERM/SIGINT (exit 0).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Scorer } from '@vqlm/models';
import type { BackendName } from '@vqlm/runtime';
import { DEFAULT_CONFIG, type ServerConfig } from './config.js';
import { InProcessQueue } from './jobs/in-process-queue.js';
import { createScorerProcessor } from './jobs/processor.js';
import type { JobProcessor, JobQueue } from './jobs/queue.js';
import { SCORING_ENGINES, loadScorer, resolveModelDir, type ScoringEngine } from './model.js';
import { runRedisApi, runWorker } from './scale-out.js';
import { buildServer } from './server.js';
import { SERVER_VERSION } from './version.js';
import { optionalWebPage } from './web/web-page.js';

export interface ServerCliOptions {
  readonly port: number;
  readonly host: string;
  readonly model?: string;
  readonly backend?: BackendName;
  readonly engine: ScoringEngine;
  readonly mediaRoot?: string;
  readonly spoolDir: string;
  readonly maxUploadMb: number;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxWait: number;
  readonly probeTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly jobTtlS: number;
  readonly logLevel: string;
  readonly redisUrl?: string;
  readonly worker?: boolean;
  readonly localWorker?: boolean;
  readonly attempts: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
}

function number(min: number, integer = true): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || (integer && !Number.isInteger(parsed))) {
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(value)}`);
    }
    return parsed;
  };
}

export function createProgram(run: (options: ServerCliOptions) => Promise<number>): Command {
  const program = new Command('vqlm-server')
    .description('vqlm scoring service: HTTP API for score, compare and describe')
    .version(SERVER_VERSION)
    .addOption(new Option('--port <n>', 'TCP port').env('PORT').default(8080).argParser(number(0)))
    .addOption(new Option('--host <addr>', 'listen address').env('HOST').default('127.0.0.1'))
    .addOption(new Option('--model <dir>', 'model bundle directory (default: $VQLM_MODEL, else models/vqlm-tiny found walking up)'))
    .addOption(new Option('--backend <name>', 'tfjs backend (default: $VQLM_BACKEND, else the best available)'))
    .addOption(new Option('--engine <engine>', 'scoring engine: auto (ONNX Runtime when the bundle has its ONNX exports, else tfjs), tfjs or onnx').env('VQLM_ENGINE').choices(SCORING_ENGINES).default('auto'))
    .addOption(new Option('--media-root <dir>', 'directory JSON `path` inputs are resolved under (unset: path inputs are refused)').env('VQLM_MEDIA_ROOT'))
    .addOption(new Option('--spool-dir <dir>', 'directory for uploads waiting for their job').env('VQLM_SPOOL_DIR').default(DEFAULT_CONFIG.spoolDir))
    .addOption(new Option('--max-upload-mb <n>', 'largest upload per file (MiB)').env('VQLM_MAX_UPLOAD_MB').default(DEFAULT_CONFIG.maxUploadBytes / 1024 / 1024).argParser(number(0.001, false)))
    .addOption(new Option('--concurrency <n>', 'jobs scored at once').env('VQLM_CONCURRENCY').default(1).argParser(number(1)))
    .addOption(new Option('--max-queue <n>', 'jobs waiting to start; more get 429').env('VQLM_MAX_QUEUE').default(16).argParser(number(0)))
    .addOption(new Option('--headers-timeout-ms <n>', 'time to receive request headers').env('VQLM_HEADERS_TIMEOUT_MS').default(DEFAULT_CONFIG.headersTimeoutMs).argParser(number(1)))
    .addOption(new Option('--request-timeout-ms <n>', 'time to receive a whole request (headers and body); then 408').env('VQLM_REQUEST_TIMEOUT_MS').default(DEFAULT_CONFIG.requestTimeoutMs).argParser(number(1)))
    .addOption(new Option('--keep-alive-timeout-ms <n>', 'idle keep-alive connection timeout').env('VQLM_KEEP_ALIVE_TIMEOUT_MS').default(DEFAULT_CONFIG.keepAliveTimeoutMs).argParser(number(1)))
    .addOption(new Option('--max-wait <s>', 'largest ?wait= (seconds)').env('VQLM_MAX_WAIT_S').default(DEFAULT_CONFIG.maxWaitSeconds).argParser(number(1, false)))
    .addOption(new Option('--probe-timeout-ms <n>', 'time limit of the ffprobe check of an input').env('VQLM_PROBE_TIMEOUT_MS').default(DEFAULT_CONFIG.probeTimeoutMs).argParser(number(1)))
    .addOption(new Option('--drain-timeout-ms <n>', 'time running jobs get to finish at shutdown').env('VQLM_DRAIN_TIMEOUT_MS').default(DEFAULT_CONFIG.drainTimeoutMs).argParser(number(0)))
    .addOption(new Option('--job-ttl-s <n>', 'how long finished jobs stay readable').env('VQLM_JOB_TTL_S').default(900).argParser(number(1)))
    .addOption(new Option('--log-level <level>', 'log level (fatal, error, warn, info, debug, trace, silent)').env('VQLM_LOG_LEVEL').default('info'))
    .addOption(new Option('--redis-url <url>', 'scale-out mode: jobs go through Redis (BullMQ)').env('REDIS_URL'))
    .addOption(new Option('--worker', 'run a queue worker instead of the API (needs --redis-url)'))
    .addOption(new Option('--local-worker', 'with --redis-url: the API process also runs a worker').env('VQLM_LOCAL_WORKER'))
    .addOption(new Option('--attempts <n>', 'with --redis-url: times a job is started at most (workers dying mid-job)').env('VQLM_ATTEMPTS').default(3).argParser(number(1)))
    .addOption(new Option('--lock-duration-ms <n>', 'with --redis-url: a dead worker\'s job is taken over after about this long').env('VQLM_LOCK_DURATION_MS').default(30_000).argParser(number(100)))
    .addOption(new Option('--stalled-interval-ms <n>', 'with --redis-url: how often workers look for jobs of dead workers').env('VQLM_STALLED_INTERVAL_MS').default(15_000).argParser(number(100)))
    .showHelpAfterError()
    .action(async (options: ServerCliOptions, command: Command) => {
      command.setOptionValue('exitCode', await run(options));
    });
  program.exitOverride();
  return program;
}

function toConfig(options: ServerCliOptions): Partial<ServerConfig> {
  return {
    maxUploadBytes: Math.round(options.maxUploadMb * 1024 * 1024),
    mediaRoot: options.mediaRoot,
    spoolDir: options.spoolDir,
    headersTimeoutMs: options.headersTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    maxWaitSeconds: options.maxWait,
    probeTimeoutMs: options.probeTimeoutMs,
    drainTimeoutMs: options.drainTimeoutMs,
  };
}

/** Resolves when SIGTERM or SIGINT arrives. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * The queue of this process. Modes: `in-process` (default), `redis` (REDIS_URL set: the API puts
 * jobs on BullMQ, workers score them). Scale-out mode is added beside this switch.
 */
function createQueue(mode: 'in-process' | 'redis', options: ServerCliOptions, processor: () => JobProcessor): JobQueue {
  switch (mode) {
    case 'in-process':
      return new InProcessQueue({ processor: processor(), concurrency: options.concurrency, maxQueued: options.maxQueue, finishedTtlMs: options.jobTtlS * 1000 });
    case 'redis':
      throw new Error('redis mode is run by runRedisApi (src/scale-out.ts)');
  }
}

/** Runs the API until SIGTERM/SIGINT; returns the exit code. */
export async function runServer(options: ServerCliOptions): Promise<number> {
  // scale-out mode (BullMQ): src/scale-out.ts
  if (options.worker) return runWorker(options, { signal: nextSignal() });
  const web = optionalWebPage();
  if (options.redisUrl) return runRedisApi(options, { config: toConfig(options), signal: nextSignal(), plugins: web.plugins });
  const mode = 'in-process';
  const modelDir = resolveModelDir(options.model);
  let scorer: Scorer | undefined;
  const queue = createQueue(mode, options, () => async (input, report) => {
    if (!scorer) throw Object.assign(new Error('the model is not loaded'), { code: 'E_NOT_READY' });
    return createScorerProcessor(scorer)(input, report);
  });
  const server = await buildServer({
    queue,
    config: toConfig(options),
    isReady: () => scorer !== undefined,
    logger: { level: options.logLevel },
    plugins: web.plugins,
  });
  const { app } = server;
  if (web.problem) app.log.warn(web.problem);
  queue.on?.('finished', (record) => app.log.info({ job: record.id, kind: record.kind, state: record.state, error: record.error?.code }, 'job finished'));
  const signal = nextSignal();
  const url = await server.listen({ port: options.port, host: options.host });
  app.log.info({ url, model: modelDir, mode }, 'listening; loading the model');
  try {
    scorer = await loadScorer(modelDir, { backend: options.backend, engine: options.engine, log: (line) => app.log.info(line) });
  } catch (error) {
    app.log.error({ err: error, model: modelDir }, 'cannot load the model');
    await server.shutdown({ drainTimeoutMs: 0 });
    return 1;
  }
  app.log.info({ model: modelDir }, 'model loaded; ready');
  const received = await signal;
  app.log.info({ signal: received }, 'shutting down: draining jobs');
  await server.shutdown();
  await scorer.dispose();
  app.log.info('stopped');
  return 0;
}

/** Entry point of the `vqlm-server` binary; returns the exit code. */
export async function main(argv: readonly string[], run: (options: ServerCliOptions) => Promise<number> = runServer): Promise<number> {
  const program = createProgram(run);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    const code = (error as { exitCode?: number; code?: string }).exitCode;
    if (typeof code === 'number') return code;
    process.stderr.write(`vqlm-server: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  return (program.getOptionValue('exitCode') as number | undefined) ?? 0;
}
