export type {
  JobError,
  JobInput,
  JobKind,
  JobProcessor,
  JobQueue,
  JobRecord,
  JobState,
} from './jobs/queue.js';
export { QueueFullError, isFinished } from './jobs/queue.js';
export { InProcessQueue, E_SHUTDOWN, toJobError } from './jobs/in-process-queue.js';
export type { InProcessQueueOptions } from './jobs/in-process-queue.js';
export { createScorerProcessor, fieldNames } from './jobs/processor.js';
export type { ApiCompareResult, ApiDescribeResult, ApiScoreResult } from './jobs/processor.js';
export { buildServer, failedJobStatus } from './server.js';
export type { BuildServerOptions, ShutdownOptions, VqlmServer } from './server.js';
export { DEFAULT_CONFIG, resolveConfig } from './config.js';
export type { ServerConfig } from './config.js';
export { HttpError, errorBody } from './errors.js';
export type { ErrorBody } from './errors.js';
export { Spool } from './spool.js';
export { createMetrics } from './metrics.js';
export type { ServerMetrics } from './metrics.js';
export { NoModelError, loadScorer, resolveModelDir } from './model.js';
export { createProgram, main } from './main.js';
export { SERVER_VERSION } from './version.js';
export { BullMqQueue, QueueUnavailableError, E_QUEUE_UNAVAILABLE, failedJobError } from './jobs/bullmq-queue.js';
export type { BullMqQueueOptions, BullMqSettings, BullMqJobData } from './jobs/bullmq-queue.js';
export { BullMqWorker, isInputError } from './jobs/bullmq-worker.js';
export type { BullMqWorkerOptions, WorkerCloseResult } from './jobs/bullmq-worker.js';
export { runRedisApi, runWorker } from './scale-out.js';
export type { ScaleOutCliOptions, ScaleOutContext } from './scale-out.js';
export { WEB_PAGE_CSP, defaultWebDir, optionalWebPage, webPage } from './web/web-page.js';
