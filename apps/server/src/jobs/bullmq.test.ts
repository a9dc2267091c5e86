/**
 * Scale-out mode against a real redis-server (started here on a free loopback port, stopped
 * after): the API puts jobs in Redis, `vqlm-server --worker` processes (the built bin, spawned)
 * and workers in this process score them with the micro model. Covers the whole flow, a worker
 * SIGKILLed mid-job (retried elsewhere, or failed after its attempts, never stuck running), a
 * Redis restart under load (persistent instance), and SIGTERM (finish, or hand back).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Scorer, ScoreResult } from '@vqlm/models';
import { resolveBinaries } from '@vqlm/video-io';
import { SKIP_REDIS, findRedisServer, startRedis, type RedisInstance } from '../__fixtures__/redis-server.js';
import { childPids, entries, form, loadScorer, makeClip, makeMicroBundle, makeTempDir, removeDir, serverPackageDir, testBackend } from '../__fixtures__/harness.js';
import { buildServer, type VqlmServer } from '../server.js';
import { BullMqQueue } from './bullmq-queue.js';
import { BullMqWorker } from './bullmq-worker.js';
import { createScorerProcessor } from './processor.js';
import { QueueFullError, type JobRecord } from './queue.js';

const BIN = join(serverPackageDir, 'dist', 'bin.js');
const LOCK_MS = 1500;
const STALLED_MS = 500;

interface SpawnedWorker {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  /** Resolves with the first stderr line matching `pattern` (seen before or after the call). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  output(): string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.skipIf(SKIP_REDIS)('scale-out: BullMQ queue and workers on a real redis-server', () => {
  let redis: RedisInstance;
  let dir: string;
  let spool: string;
  let bundle: string;
  let scorer: Scorer;
  let short: string;
  let long: string;
  let expectedShort: ScoreResult;
  let expectedLong: ScoreResult;
  let pidsBefore: number[];
  const spawned = new Set<ChildProcess>();
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    findRedisServer(); // fails with how to install it
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the server first (pnpm --filter @vqlm/server build)`);
    pidsBefore = childPids();
    redis = await startRedis();
    dir = await makeTempDir('bullmq');
    spool = join(dir, 'spool');
    await mkdir(spool);
    bundle = await makeMicroBundle(dir);
    scorer = await loadScorer(bundle, { backend: testBackend });
    short = makeClip(join(dir, 'short.mp4'), { width: 64, height: 48, frames: 10 });
    // a long, cheap-to-make clip: its job runs about a second, long enough to stop a worker mid-job
    long = join(dir, 'long.mp4');
    execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', 'color=c=gray:size=96x64:rate=30', '-frames:v', '12000', '-c:v', 'mpeg4', `file:${long}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    expectedShort = await scorer.score(short);
    expectedLong = await scorer.score(long);
  }, 120_000);

  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  afterAll(async () => {
    for (const child of spawned) child.kill('SIGKILL');
    await redis?.destroy();
    await scorer?.dispose();
    if (dir) await removeDir(dir);
  });

  function spawnWorker(extra: string[] = [], url = redis.url): SpawnedWorker {
    const child = spawn(
      process.execPath,
      [BIN, '--worker', '--redis-url', url, '--model', bundle, '--backend', testBackend, '--lock-duration-ms', String(LOCK_MS), '--stalled-interval-ms', String(STALLED_MS), '--spool-dir', spool, ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, REDIS_URL: '' } },
    );
    spawned.add(child);
    let text = '';
    const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
    const check = (): void => {
      for (const waiter of [...waiters]) {
        const match = text.split('\n').find((line) => waiter.pattern.test(line));
        if (match !== undefined) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      check();
    });
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        spawned.delete(child);
        resolve(code);
      }),
    );
    return {
      child,
      exit,
      output: () => text,
      line(pattern, timeoutMs = 30_000) {
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`worker: no line ${String(pattern)} within ${timeoutMs} ms; stderr:\n${text}`)), timeoutMs);
          waiters.push({
            pattern,
            resolve: (line) => {
              clearTimeout(timer);
              resolve(line);
            },
          });
          check();
        });
      },
    };
  }

  function localWorker(attempts = 3, url = redis.url): BullMqWorker {
    const worker = new BullMqWorker({ redisUrl: url, processor: createScorerProcessor(scorer), attempts, lockDurationMs: LOCK_MS, stalledIntervalMs: STALLED_MS, ownedRoot: spool });
    cleanups.push(() => worker.close({ timeoutMs: 10_000 }));
    return worker;
  }

  function apiQueue(options: { url?: string; maxQueued?: number; queueName?: string } = {}): BullMqQueue {
    const queue = new BullMqQueue({ redisUrl: options.url ?? redis.url, maxQueued: options.maxQueued ?? 16, backoffMs: 100, ...(options.queueName ? { queueName: options.queueName } : {}) });
    cleanups.push(() => queue.close());
    return queue;
  }

  /** A job input owning a fresh spool directory with a copy of `clip`, as an upload would. */
  async function upload(clip: string): Promise<{ videos: string[]; owned: string[] }> {
    const owned = await mkdtemp(join(spool, 'upload-'));
    const video = join(owned, 'video.mp4');
    await copyFile(clip, video);
    return { videos: [video], owned: [owned] };
  }

  async function until(queue: BullMqQueue, id: string, done: (record: JobRecord) => boolean, timeoutMs = 30_000): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await queue.get(id);
      if (record && done(record)) return record;
      if (Date.now() > deadline) throw new Error(`job ${id}: still ${JSON.stringify(record)} after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async function spoolEmpty(timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await entries(spool);
      if (left.length === 0 || Date.now() > deadline) return left;
      await sleep(50);
    }
  }

  it('runs a job API → Redis → worker process → result, readable by id', async () => {
    const worker = spawnWorker();
    cleanups.push(async () => {
      worker.child.kill('SIGTERM');
      expect(await worker.exit).toBe(0);
    });
    const queue = apiQueue();
    const server: VqlmServer = await buildServer({ queue, config: { spoolDir: spool }, isReady: () => queue.connected, defaultMetrics: false });
    cleanups.push(() => server.shutdown({ drainTimeoutMs: 1000 }));
    const url = await server.listen();
    await worker.line(/ready/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const response = await fetch(`${url}/v1/score?wait=30`, { method: 'POST', body: await form({ video: short }) });
    const body = (await response.json()) as JobRecord & { result: ScoreResult };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.state).toBe('completed');
    expect(body.attempts).toBe(1);
    // scored in another process, on the same backend: the same numbers
    expect(body.result.score).toBe(expectedShort.score);
    expect(body.result.perFrame).toEqual(expectedShort.perFrame);
    expect(body.result).not.toHaveProperty('path');
    expect(worker.output()).toMatch(new RegExp(`job ${body.id}: completed`));

    // readable by id from any API process: a second queue object on the same Redis
    const other = apiQueue();
    expect((await other.get(body.id))?.result).toEqual(body.result);
    expect(await other.get('no-such-job')).toBeNull();
    expect((await fetch(`${url}/v1/jobs/no-such-job`)).status).toBe(404);
    // the worker removed the upload when the job ended
    expect(await spoolEmpty()).toEqual([]);
  });

  it('refuses jobs beyond the waiting bound with QueueFullError (429 + Retry-After)', async () => {
    const queue = apiQueue({ maxQueued: 1, queueName: 'vqlm-test-full' });
    cleanups.push(() => queue.queue.obliterate({ force: true }));
    const first = await queue.add({ kind: 'score', videos: [short], owned: [] });
    expect(first.state).toBe('queued');
    expect(await queue.depth()).toEqual({ waiting: 1, active: 0 });
    const error = await queue.add({ kind: 'score', videos: [short], owned: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).message).toMatch(/queue full: 1 jobs waiting/);
    expect((error as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('a worker SIGKILLed mid-job: the job is never stuck running and another worker completes it', async () => {
    const doomed = spawnWorker();
    await doomed.line(/ready/);
    const queue = apiQueue();
    const { id } = await queue.add({ kind: 'score', ...(await upload(long)) });
    await doomed.line(new RegExp(`job ${id}: score started`));
    doomed.child.kill('SIGKILL');
    await doomed.exit;
    expect((await queue.get(id))?.state).toMatch(/running|queued/);
    // no live worker: once the dead worker's lock expires the job reads as queued, not running
    const waiting = await until(queue, id, (r) => r.state === 'queued', LOCK_MS + 2000);
    expect(waiting.attempts).toBe(1);
    expect(await entries(spool)).toHaveLength(1); // the upload waits for the next attempt

    localWorker();
    const done = await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed');
    expect(done.state).toBe('completed');
    expect(done.attempts).toBe(2);
    expect((done.result as ScoreResult | undefined)?.score, JSON.stringify(await queue.queue.getJob(id))).toBe(expectedLong.score);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('a job whose workers keep dying fails after its attempts, with its upload removed', async () => {
    const doomed = spawnWorker(['--attempts', '1']);
    await doomed.line(/ready/);
    const queue = apiQueue();
    const { id } = await queue.add({ kind: 'score', ...(await upload(long)) });
    await doomed.line(new RegExp(`job ${id}: score started`));
    doomed.child.kill('SIGKILL');
    await doomed.exit;

    localWorker(1);
    const done = await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed');
    expect(done.state).toBe('failed');
    expect(done.error?.code).toBe('E_JOB_ATTEMPTS');
    expect(done.error?.message).toMatch(/no worker finished it/);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('SIGTERM: a worker finishes its running job and exits 0', async () => {
    const worker = spawnWorker();
    await worker.line(/ready/);
    const queue = apiQueue();
    const { id } = await queue.add({ kind: 'score', ...(await upload(long)) });
    await worker.line(new RegExp(`job ${id}: score started`));
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
    // no other worker runs: the stopping worker finished it
    const record = await queue.get(id);
    expect(record?.state).toBe('completed');
    expect(record?.attempts).toBe(1);
    expect(worker.output()).toMatch(/SIGTERM: finishing 1 running job/);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('SIGTERM past the drain timeout: the running job is handed back and completed by another worker', async () => {
    const worker = spawnWorker(['--drain-timeout-ms', '1']);
    await worker.line(/ready/);
    const queue = apiQueue();
    const { id } = await queue.add({ kind: 'score', ...(await upload(long)) });
    await worker.line(new RegExp(`job ${id}: score started`));
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
    expect(worker.output()).toMatch(new RegExp(`handed back ${id}`));
    const back = await queue.get(id);
    expect(back?.state).toBe('queued');
    expect(await entries(spool)).toHaveLength(1);

    localWorker();
    const done = await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed');
    expect(done.state).toBe('completed');
    expect(done.attempts).toBe(2);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('a completion this worker never hears of (a reply lost to a Redis outage) still removes the upload', async () => {
    const worker = localWorker();
    // Redis records the job as completed, but the 'completed' event never reaches this worker.
    worker.worker.removeAllListeners('completed');
    const queue = apiQueue();
    const { id } = await queue.add({ kind: 'score', ...(await upload(short)) });
    expect((await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed')).state).toBe('completed');
    expect(await spoolEmpty()).toEqual([]);
  });

  it('Redis restarted under load: queued jobs resume and complete', async () => {
    const persistent = await startRedis({ persistent: true });
    cleanups.push(() => persistent.destroy());
    const queue = apiQueue({ url: persistent.url });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await queue.add({ kind: 'score', ...(await upload(short)) })).id);
    localWorker(3, persistent.url);
    await until(queue, ids[0], (r) => r.state === 'completed');
    const before = await Promise.all(ids.map((id) => queue.get(id)));
    expect(before.filter((r) => r?.state !== 'completed').length).toBeGreaterThan(2);
    await persistent.stop();
    // while Redis is down the API answers 503 (a typed error), not a hang
    await expect(queue.get(ids[4])).rejects.toMatchObject({ statusCode: 503, code: 'E_QUEUE_UNAVAILABLE' });
    await sleep(300);
    await persistent.start();
    const records = await Promise.all(ids.map((id) => until(queue, id, (r) => r.state === 'completed' || r.state === 'failed', 40_000)));
    expect(records.map((r) => r.state)).toEqual(Array(8).fill('completed'));
    for (const record of records) expect((record.result as ScoreResult).score).toBe(expectedShort.score);
    expect(await spoolEmpty()).toEqual([]);
  }, 60_000);

  it('a job with an input error fails at once (no retry), with its code and a message naming the field', async () => {
    const queue = apiQueue();
    localWorker();
    const input = await upload(short);
    await writeFile(input.videos[0], 'not a video at all\n');
    const { id } = await queue.add({ kind: 'score', ...input });
    const done = await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed');
    expect(done.state).toBe('failed');
    expect(done.attempts).toBe(1);
    expect(done.error?.code).toMatch(/^E_(?!INTERNAL)/);
    expect(done.error?.message).toMatch(/video/);
    expect(done.error?.message).not.toContain(spool);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('a worker removes only owned paths inside its spool directory', async () => {
    const outside = await mkdtemp(join(dir, 'outside-'));
    const video = join(outside, 'video.mp4');
    await copyFile(short, video);
    const queue = apiQueue();
    localWorker();
    const { id } = await queue.add({ kind: 'score', videos: [video], owned: [outside] });
    const done = await until(queue, id, (r) => r.state === 'completed' || r.state === 'failed');
    expect(done.state).toBe('completed');
    await sleep(100);
    expect(existsSync(video)).toBe(true);
  });

  it('vqlm-server with REDIS_URL and --local-worker: the bin serves the API and the page, scores through Redis, stops on SIGTERM', async () => {
    const api = spawn(process.execPath, [BIN, '--port', '0', '--model', bundle, '--backend', testBackend, '--local-worker', '--spool-dir', spool, '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: redis.url },
    });
    spawned.add(api);
    const exit = new Promise<number | null>((resolve) => api.once('exit', (code) => resolve(code)));
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'listening' line within 30 s:\n${out}`)), 30_000);
      api.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (match && /local worker running/.test(out)) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    expect(out).toMatch(/"mode":"redis"/);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<title>vqlm/);
    const response = await fetch(`${url}/v1/score?wait=30`, { method: 'POST', body: await form({ video: short }) });
    const body = (await response.json()) as JobRecord & { result: ScoreResult };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.result.score).toBe(expectedShort.score);
    api.kill('SIGTERM');
    expect(await exit).toBe(0);
    spawned.delete(api);
    expect(await spoolEmpty()).toEqual([]);
  });

  it('vqlm-server --worker without a Redis URL exits 2 with a one-line message', async () => {
    const child = spawn(process.execPath, [BIN, '--worker'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, REDIS_URL: '' } });
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err.trim()).toBe('vqlm-server: --worker needs a Redis URL (--redis-url or REDIS_URL)');
  });

  it('leaves no worker, ffmpeg or redis processes behind', async () => {
    await sleep(100);
    const left = childPids()
      .filter((pid) => !pidsBefore.includes(pid))
      .map((pid) => {
        try {
          return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`;
        } catch {
          return '';
        }
      })
      .filter((line) => line !== '' && !new RegExp(`redis-server.*(:|--port )${redis.port}\\b`).test(line));
    expect(left).toEqual([]);
  });
});
