/**
 * The HTTP API of the vqlm scoring service (Fastify 5). `buildServer` wires a {@link JobQueue}
 * (in-process by default, BullMQ in scale-out mode) to the routes, metrics and OpenAPI document;
 * it does not load a model: the queue's processor does.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { STATUS_CODES, createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { resolveConfig, type ServerConfig } from './config.js';
import { HttpError, errorBody } from './errors.js';
import { E_SHUTDOWN } from './jobs/in-process-queue.js';
import { fieldNames } from './jobs/processor.js';
import { QueueFullError, isFinished, type JobInput, type JobKind, type JobQueue, type JobRecord } from './jobs/queue.js';
import { resolveMediaPath } from './media.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { jsonBody, multipartBody, sharedSchemas, submitErrors } from './schemas.js';
import { Spool } from './spool.js';
import { checkVideo } from './validate.js';
import { SERVER_VERSION } from './version.js';

export interface BuildServerOptions {
  /** Where jobs go: an `InProcessQueue`, or a BullMQ-backed queue in scale-out mode. */
  readonly queue: JobQueue;
  /** Limits and paths; unset fields take {@link DEFAULT_CONFIG}'s. */
  readonly config?: Partial<ServerConfig>;
  /** Whether jobs can be taken (model loaded, workers reachable); `/readyz` and submissions answer 503 while false. Default: always. */
  readonly isReady?: () => boolean;
  /** Fastify logger: `false` (default) or pino options / a logger instance. */
  readonly logger?: boolean | Record<string, unknown> | FastifyBaseLogger;
  /** Extra Fastify plugins registered after the API routes (e.g. the web page). */
  readonly plugins?: readonly FastifyPluginAsync[];
  /** Include prom-client's default process metrics in `/metrics` (default true). */
  readonly defaultMetrics?: boolean;
}

export interface ShutdownOptions {
  /** Time running jobs get to finish (default: the config's `drainTimeoutMs`). */
  readonly drainTimeoutMs?: number;
}

export interface VqlmServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  readonly metrics: ServerMetrics;
  readonly spool: Spool;
  readonly queue: JobQueue;
  /** True once `shutdown()` has begun. */
  readonly draining: boolean;
  /** Starts listening; returns the base URL (`http://host:port`). */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /**
   * Graceful stop: refuse new jobs (readyz 503), let running jobs finish (up to the drain
   * timeout; queued ones are failed with `E_SHUTDOWN`), close the HTTP server, remove upload
   * files still held by requests. Idempotent.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

type RouteConfig = { uploadFiles?: number };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Number of upload fields of a route, for the early Content-Length check. */
    uploadFiles?: number;
  }
}

/** HTTP status of a failed job, when answered through `?wait=`. */
export function failedJobStatus(code: string): number {
  if (code === E_SHUTDOWN) return 503;
  if (['E_EMPTY', 'E_NOT_VIDEO', 'E_NO_VIDEO', 'E_DIMENSIONS', 'E_DECODE', 'E_NOT_FOUND', 'E_NOT_FILE', 'E_TIMEOUT', 'E_TRUNCATED'].includes(code)) return 422;
  if (code === 'E_BAD_REQUEST') return 400;
  return 500;
}

/** Builds the server (not listening yet). */
export async function buildServer(options: BuildServerOptions): Promise<VqlmServer> {
  const config = resolveConfig(options.config);
  const { queue } = options;
  const isReady = options.isReady ?? (() => true);
  if (config.mediaRoot !== undefined) {
    const root = config.mediaRoot;
    const isDir = await stat(root).then((info) => info.isDirectory(), () => false);
    if (!isDir) throw new Error(`mediaRoot: ${JSON.stringify(root)} is not a directory`);
  }
  const spool = new Spool(config.spoolDir);
  await spool.init();
  const metrics = createMetrics(queue, { defaultMetrics: options.defaultMetrics });
  let draining = false;
  let shutdownPromise: Promise<void> | undefined;
  const checkInterval = Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 4)));

  let httpServer: Server | undefined;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 64 * 1024,
    // unknown JSON fields are refused (400), not silently dropped
    ajv: { customOptions: { removeAdditional: false } },
    serverFactory: (handler) => {
      httpServer = createServer(
        {
          headersTimeout: config.headersTimeoutMs,
          requestTimeout: config.requestTimeoutMs,
          keepAliveTimeout: config.keepAliveTimeoutMs,
          connectionsCheckingInterval: checkInterval,
        },
        handler,
      );
      return httpServer;
    },
    clientErrorHandler(error: Error & { code?: string }, socket: Socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const [status, code, message] = timeout
        ? ([408, 'E_REQUEST_TIMEOUT', `the request was not received within ${config.requestTimeoutMs} ms (headers within ${config.headersTimeoutMs} ms)`] as const)
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? ([431, 'E_HEADERS_TOO_LARGE', 'request headers too large'] as const)
          : ([400, 'E_BAD_REQUEST', 'malformed HTTP request'] as const);
      if (timeout) metrics.observeRequest('unknown', 'timeout', status, 0);
      const body = JSON.stringify(errorBody(code, message));
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
      socket.destroy();
    },
  });
  for (const schema of sharedSchemas) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'vqlm scoring service', version: SERVER_VERSION, description: 'Video quality scores, comparisons and descriptions from a vqlm model bundle.' },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => {
      const kind = (schema as { 'x-vqlm-kind'?: JobKind } | undefined)?.['x-vqlm-kind'];
      if (!schema || !kind) return { schema, url };
      const { 'x-vqlm-kind': _kind, ...rest } = schema as Record<string, unknown>;
      const body = rest.body as { content: Record<string, unknown> };
      return {
        schema: { ...rest, body: { content: { ...body.content, 'multipart/form-data': { schema: multipartBody(kind) } } } },
        url,
      };
    },
  });
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: config.maxUploadBytes, files: 2, fields: 4, parts: 6, fieldSize: 1024, headerPairs: 100 },
  });

  // --- errors: one JSON shape everywhere ---
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (error instanceof HttpError) {
      for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
      return reply.status(error.statusCode).send(errorBody(error.code, error.message));
    }
    if (error instanceof QueueFullError) {
      return reply.status(429).header('retry-after', String(error.retryAfterSeconds)).send(errorBody('E_QUEUE_FULL', error.message));
    }
    if (error.validation) return reply.status(400).send(errorBody('E_BAD_REQUEST', error.message));
    switch (error.code) {
      case 'FST_REQ_FILE_TOO_LARGE':
        return reply.status(413).send(errorBody('E_PAYLOAD_TOO_LARGE', `upload larger than the limit of ${config.maxUploadBytes} bytes`));
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.status(413).send(errorBody('E_PAYLOAD_TOO_LARGE', 'JSON body too large'));
      case 'FST_FILES_LIMIT':
      case 'FST_PARTS_LIMIT':
      case 'FST_FIELDS_LIMIT':
        return reply.status(400).send(errorBody('E_BAD_REQUEST', `too many form parts: ${error.message}`));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
        return reply.status(415).send(errorBody('E_UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data (uploads) or application/json (paths)'));
      default:
        break;
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    return reply.status(status).send(errorBody(status === 500 ? 'E_INTERNAL' : (error.code ?? 'E_BAD_REQUEST'), status === 500 ? 'internal error' : error.message));
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBody('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));

  // --- metrics of every response ---
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  // refuse uploads whose declared size cannot fit before reading them
  app.addHook('onRequest', async (request, reply) => {
    const files = (request.routeOptions.config as RouteConfig | undefined)?.uploadFiles;
    const length = Number(request.headers['content-length']);
    if (files && Number.isFinite(length) && length > files * config.maxUploadBytes + 64 * 1024) {
      void reply.header('connection', 'close');
      throw new HttpError(413, 'E_PAYLOAD_TOO_LARGE', `upload of ${length} bytes is larger than the limit of ${config.maxUploadBytes} bytes per file`);
    }
  });

  // --- job finish events: metrics and waiters ---
  const wakers = new Map<string, Set<() => void>>();
  queue.on?.('finished', (record) => {
    metrics.observeJob(record);
    for (const wake of wakers.get(record.id) ?? []) wake();
  });

  async function waitForJob(id: string, seconds: number, reply: FastifyReply): Promise<JobRecord | null> {
    const deadline = Date.now() + seconds * 1000;
    let gone = false;
    const onClose = (): void => {
      gone = !reply.raw.writableEnded;
      for (const wake of wakers.get(id) ?? []) wake();
    };
    reply.raw.once('close', onClose);
    try {
      for (;;) {
        const record = await queue.get(id);
        if (!record || isFinished(record) || gone) return record;
        const left = deadline - Date.now();
        if (left <= 0) return record;
        await new Promise<void>((resolve) => {
          const set = wakers.get(id) ?? new Set<() => void>();
          wakers.set(id, set);
          const done = (): void => {
            clearTimeout(timer);
            set.delete(done);
            if (set.size === 0) wakers.delete(id);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, 250));
          set.add(done);
        });
      }
    } finally {
      reply.raw.off('close', onClose);
    }
  }

  function present(record: JobRecord): Record<string, unknown> {
    return { ...record, links: { self: `/v1/jobs/${record.id}` } };
  }

  /** Reads a multipart upload into a fresh spool directory; the caller owns the directory. */
  async function receiveUploads(request: FastifyRequest, fields: readonly string[], dir: string): Promise<{ videos: string[]; labels: string[]; describe: boolean }> {
    const files = new Map<string, { path: string; label: string }>();
    let describe = false;
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (!fields.includes(part.fieldname) || files.has(part.fieldname)) {
          part.file.resume();
          throw new HttpError(400, 'E_BAD_REQUEST', `unexpected file field ${JSON.stringify(part.fieldname)} (expected ${fields.join(', ')})`);
        }
        const ext = extname(part.filename ?? '').toLowerCase();
        const path = join(dir, `${part.fieldname}${/^\.[a-z0-9]{1,8}$/.test(ext) ? ext : ''}`);
        await pipeline(part.file, createWriteStream(path));
        if (part.file.truncated) throw new HttpError(413, 'E_PAYLOAD_TOO_LARGE', `${part.fieldname}: upload larger than the limit of ${config.maxUploadBytes} bytes`);
        files.set(part.fieldname, { path, label: `${part.fieldname} ${JSON.stringify(part.filename ?? '')}` });
      } else if (part.fieldname === 'describe') {
        const value = String(part.value).trim().toLowerCase();
        if (!['true', 'false', '1', '0', ''].includes(value)) throw new HttpError(400, 'E_BAD_REQUEST', `describe: expected true or false, got ${JSON.stringify(part.value)}`);
        describe = value === 'true' || value === '1';
      } else {
        throw new HttpError(400, 'E_BAD_REQUEST', `unexpected form field ${JSON.stringify(part.fieldname)}`);
      }
    }
    const videos: string[] = [];
    const labels: string[] = [];
    for (const field of fields) {
      const file = files.get(field);
      if (!file) throw new HttpError(400, 'E_BAD_REQUEST', `missing file field ${JSON.stringify(field)}`);
      videos.push(file.path);
      labels.push(file.label);
    }
    return { videos, labels, describe };
  }

  async function submit(kind: JobKind, request: FastifyRequest<{ Querystring: { wait?: number } }>, reply: FastifyReply): Promise<unknown> {
    if (draining) throw new HttpError(503, 'E_SHUTTING_DOWN', 'the server is shutting down', { 'retry-after': '5' });
    if (!isReady()) throw new HttpError(503, 'E_NOT_READY', 'the model is not loaded yet', { 'retry-after': '5' });
    const fields = fieldNames({ kind });
    let dir: string | undefined;
    let record: JobRecord;
    try {
      let input: JobInput;
      if (request.isMultipart()) {
        dir = await spool.create();
        const upload = await receiveUploads(request, fields, dir);
        for (let i = 0; i < upload.videos.length; i++) await checkVideo(upload.videos[i], upload.labels[i], config.probeTimeoutMs);
        input = { kind, videos: upload.videos, owned: [dir], ...(kind === 'describe' ? {} : { describe: upload.describe }) };
      } else {
        const body = request.body as Record<string, unknown> | undefined;
        if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
          throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data (uploads) or application/json (paths)');
        }
        if (!body || typeof body !== 'object') throw new HttpError(400, 'E_BAD_REQUEST', 'expected a JSON object');
        const keys = kind === 'compare' ? ['a', 'b'] : ['path'];
        const videos: string[] = [];
        for (const key of keys) {
          const path = await resolveMediaPath(config.mediaRoot, key, body[key]);
          await checkVideo(path, `${key} ${JSON.stringify(body[key])}`, config.probeTimeoutMs);
          videos.push(path);
        }
        input = { kind, videos, owned: [], ...(kind === 'describe' ? {} : { describe: body.describe === true }) };
      }
      if (draining) throw new HttpError(503, 'E_SHUTTING_DOWN', 'the server is shutting down', { 'retry-after': '5' });
      record = await queue.add(input);
      if (dir) spool.release(dir);
      dir = undefined;
    } finally {
      if (dir) await spool.remove(dir);
    }
    const wait = Math.min(request.query.wait ?? 0, config.maxWaitSeconds);
    const final = wait > 0 ? ((await waitForJob(record.id, wait, reply)) ?? record) : record;
    if (final.state === 'completed') return reply.status(200).send(present(final));
    if (final.state === 'failed') return reply.status(failedJobStatus(final.error?.code ?? 'E_INTERNAL')).send(present(final));
    return reply.status(202).header('location', `/v1/jobs/${record.id}`).send(present(final));
  }

  const jobResponses = {
    200: { description: 'finished within ?wait= (state completed)', $ref: 'Job#' },
    202: { description: 'accepted; poll links.self', $ref: 'Job#' },
    ...submitErrors,
    500: { description: 'job failed (internal) or server error', $ref: 'Error#' },
  };
  const waitQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { wait: { type: 'number', minimum: 0, description: `seconds to wait for the result (clamped to ${config.maxWaitSeconds}); 200 with the finished job, else 202` } },
  };
  for (const kind of ['score', 'compare', 'describe'] as const) {
    app.post<{ Querystring: { wait?: number } }>(
      `/v1/${kind}`,
      {
        config: { uploadFiles: kind === 'compare' ? 2 : 1 } satisfies RouteConfig,
        schema: {
          'x-vqlm-kind': kind,
          summary: kind === 'score' ? 'Score one video' : kind === 'compare' ? 'Compare two videos' : 'Describe one video',
          tags: ['jobs'],
          querystring: waitQuery,
          body: { content: { 'application/json': { schema: jsonBody(kind) } } },
          response: jobResponses,
        } as Record<string, unknown>,
      },
      (request, reply) => submit(kind, request, reply),
    );
  }

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'A job: state, progress, result or error',
        tags: ['jobs'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        response: { 200: { $ref: 'Job#' }, 404: { description: 'unknown or expired job', $ref: 'Error#' } },
      },
    },
    async (request) => {
      const record = await queue.get(request.params.id);
      if (!record) throw new HttpError(404, 'E_NOT_FOUND', `no job ${JSON.stringify(request.params.id)} (unknown or expired)`);
      return present(record);
    },
  );

  const statusSchema = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } };
  app.get('/healthz', { schema: { summary: 'The process is up', tags: ['ops'], response: { 200: statusSchema } } }, () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { summary: 'Ready for jobs (model loaded, not shutting down)', tags: ['ops'], response: { 200: statusSchema, 503: statusSchema } } },
    async (_request, reply) => {
      if (draining) return reply.status(503).send({ status: 'shutting down' });
      if (!isReady()) return reply.status(503).send({ status: 'loading' });
      return { status: 'ready' };
    },
  );
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['ops'], produces: ['text/plain'] } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  for (const plugin of options.plugins ?? []) await app.register(plugin);

  const server: VqlmServer = {
    app,
    config,
    metrics,
    spool,
    queue,
    get draining() {
      return draining;
    },
    async listen(listenOptions = {}) {
      return app.listen({ port: listenOptions.port ?? 0, host: listenOptions.host ?? '127.0.0.1' });
    },
    shutdown(shutdownOptions = {}) {
      shutdownPromise ??= (async () => {
        draining = true;
        const timeoutMs = shutdownOptions.drainTimeoutMs ?? config.drainTimeoutMs;
        await queue.close({ drain: true, timeoutMs });
        // waiters of cancelled or finished jobs answer now; give them a moment, then cut what is left
        const closing = app.close();
        const timer = setTimeout(() => httpServer?.closeAllConnections(), Math.min(2000, timeoutMs));
        await closing;
        clearTimeout(timer);
        await spool.removeAll();
      })();
      return shutdownPromise;
    },
  };
  return server;
}
