import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { Scorer } from '@vqlm/models';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  childPids,
  entries,
  form,
  loadScorer,
  makeAudioOnly,
  makeClip,
  makeMicroBundle,
  makeTempDir,
  pollJob,
  removeDir,
  startServer,
  testBackend,
  type Harness,
} from './__fixtures__/harness.js';
import { InProcessQueue } from './jobs/in-process-queue.js';
import { createScorerProcessor } from './jobs/processor.js';
import type { JobInput } from './jobs/queue.js';
import { buildServer } from './server.js';

let root: string;
let scorer: Scorer;
let media: string;
let spool: string;
let clip: string;
let clip2: string;
let h: Harness;
let openapi: Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = any;
const ajv = new Ajv({ strict: false, validateFormats: false });
const MAX_UPLOAD = 256 * 1024;

beforeAll(async () => {
  root = await makeTempDir('api');
  media = join(root, 'media');
  spool = join(root, 'spool');
  await mkdir(join(media, 'sub'), { recursive: true });
  clip = makeClip(join(media, 'clip.mp4'));
  clip2 = makeClip(join(media, 'sub', 'other.mp4'), { pattern: 'mandelbrot', frames: 12 });
  makeClip(join(root, 'outside.mp4'));
  await symlink(join(root, 'outside.mp4'), join(media, 'escape.mp4'));
  makeAudioOnly(join(root, 'audio.m4a'));
  await writeFile(join(root, 'empty.mp4'), '');
  await writeFile(join(root, 'notes.mp4'), 'this is a text file, not a video\n'.repeat(20));
  await copyFile(clip, join(root, 'truncated.mp4'));
  await truncate(join(root, 'truncated.mp4'), Math.floor((await readFile(clip)).length / 2));
  const faststart = makeClip(join(root, 'faststart.mp4'), { frames: 30, faststart: true });
  await truncate(faststart, Math.floor((await readFile(faststart)).length / 2));
  await writeFile(join(root, 'big.mp4'), randomBytes(MAX_UPLOAD + 10_000));
  scorer = await loadScorer(await makeMicroBundle(root), { backend: testBackend });
  h = await startServer(scorer, { mediaRoot: media, spoolDir: spool, maxUploadBytes: MAX_UPLOAD }, { concurrency: 2 });
  openapi = (await (await fetch(`${h.url}/openapi.json`)).json()) as Record<string, unknown>;
  ajv.addSchema(openapi, 'openapi');
});

afterAll(async () => {
  await h?.close();
  await scorer?.dispose();
  await removeDir(root);
});

afterEach(async () => {
  // every job has ended and taken its files with it; no ffmpeg/ffprobe left running
  const deadline = Date.now() + 10_000;
  for (;;) {
    const depth = await h.queue.depth();
    if ((depth.waiting === 0 && depth.active === 0 && (await entries(spool)).length === 0) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(await entries(spool)).toEqual([]);
  expect(childPids()).toEqual([]);
});

/** Checks a response body against the OpenAPI document's schema for that route and status. */
function expectDocumented(method: string, path: string, status: number, body: unknown): void {
  const pointer = `openapi#/paths/${path.replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`;
  const validate = ajv.getSchema(pointer);
  expect(validate, `${method} ${path} ${status} is documented`).toBeTypeOf('function');
  const ok = validate!(body);
  expect(ok, JSON.stringify(validate!.errors)).toBe(true);
}

async function post(route: string, body: FormData | Record<string, unknown>): Promise<{ status: number; body: Json; headers: Headers }> {
  const init: RequestInit =
    body instanceof FormData ? { method: 'POST', body } : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  const response = await fetch(`${h.url}${route}`, init);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

describe('scoring through the API', () => {
  it('scores an upload and answers 200 with the finished job under ?wait=', async () => {
    const { status, body } = await post('/v1/score?wait=30', await form({ video: clip }));
    expect(status).toBe(200);
    expectDocumented('post', '/v1/score', 200, body);
    expect(body).toMatchObject({ kind: 'score', state: 'completed', progress: 1, attempts: 1, links: { self: `/v1/jobs/${body.id}` } });
    const direct = await scorer.score(clip);
    expect(body.result.score).toBeCloseTo(direct.score, 6);
    expect(body.result.perFrame).toHaveLength(2);
    expect(body.result.frames).toEqual(direct.frames);
    expect(body.result).not.toHaveProperty('path');
    expect(body.result).not.toHaveProperty('description');
  });

  it('loadScorer takes the engine: tfjs and ONNX Runtime agree within 1e-4; onnx needs the exports', async () => {
    const { exportBundleOnnx } = await import('@vqlm/models');
    const bundle = await makeMicroBundle(root, 'engine-bundle', 9);
    await expect(loadScorer(bundle, { backend: testBackend, engine: 'onnx' })).rejects.toThrow(/model\.json has no files\.onnx/);
    const tfjs = await loadScorer(bundle, { backend: testBackend, engine: 'tfjs' });
    const expected = await tfjs.score(clip);
    await tfjs.dispose();
    await exportBundleOnnx(bundle);
    const onnx = await loadScorer(bundle, { backend: testBackend, engine: 'onnx' });
    const got = await onnx.score(clip);
    await onnx.dispose();
    expect(Math.abs(got.score - expected.score)).toBeLessThan(1e-4);
  });

  it('returns an ensemble model\'s member scores (documented in the OpenAPI schema)', async () => {
    const { saveEnsembleBundle } = await import('@vqlm/models');
    const ensembleDir = join(root, 'ensemble');
    await saveEnsembleBundle([await makeMicroBundle(root, 'member-a', 5), await makeMicroBundle(root, 'member-b', 6)], ensembleDir);
    const ensemble = await loadScorer(ensembleDir, { backend: testBackend });
    const other = await startServer(ensemble, { mediaRoot: media, spoolDir: join(root, 'spool-ensemble'), maxUploadBytes: MAX_UPLOAD });
    try {
      const response = await fetch(`${other.url}/v1/score?wait=30`, { method: 'POST', body: await form({ video: clip }) });
      const body: Json = await response.json();
      expect(response.status).toBe(200);
      expectDocumented('post', '/v1/score', 200, body);
      const direct = await ensemble.score(clip);
      expect(body.result.members).toHaveLength(2);
      (body.result.members as number[]).forEach((m, i) => expect(m).toBeCloseTo(direct.members![i], 6));
      expect(body.result.score).toBeCloseTo(direct.score, 6);
    } finally {
      await other.close();
      await ensemble.dispose();
    }
  });

  it('scores with an LMM-VQA bundle: a whole-video score, no per-frame scores, documented', async () => {
    const { LmmVqa, createLmmVqaConfig, cpLlmPreset, presetTokenizer, saveBundle } = await import('@vqlm/models');
    const lmm = new LmmVqa(
      createLmmVqaConfig({
        m: 2,
        spatialVit: cpLlmPreset('micro').pixelVit,
        temporal: { numFrames: 4, imageSize: 16, tubeletFrames: 2, patchSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
        decoder: cpLlmPreset('micro').decoder,
      }),
      { tokenizer: presetTokenizer('micro') },
    );
    const lmmDir = join(root, 'lmm');
    try {
      await saveBundle(lmm, lmmDir);
    } finally {
      await lmm.dispose();
    }
    const lmmScorer = await loadScorer(lmmDir, { backend: testBackend });
    const other = await startServer(lmmScorer, { mediaRoot: media, spoolDir: join(root, 'spool-lmm'), maxUploadBytes: MAX_UPLOAD });
    try {
      const response = await fetch(`${other.url}/v1/score?wait=30`, { method: 'POST', body: await form({ video: clip }, { describe: 'true' }) });
      const body: Json = await response.json();
      expect(response.status).toBe(200);
      expectDocumented('post', '/v1/score', 200, body);
      const direct = await lmmScorer.score(clip, { describe: true });
      expect(body.result.score).toBeCloseTo(direct.score, 6);
      expect(body.result.perFrame).toEqual([]);
      expect(body.result.description).toBe(direct.description);
    } finally {
      await other.close();
      await lmmScorer.dispose();
    }
  });

  it('answers 202 with a job link, then the job can be polled to completion', async () => {
    const response = await fetch(`${h.url}/v1/score`, { method: 'POST', body: await form({ video: clip2 }, { describe: 'true' }) });
    expect(response.status).toBe(202);
    const accepted = (await response.json());
    expectDocumented('post', '/v1/score', 202, accepted);
    expect(['queued', 'running']).toContain(accepted.state);
    expect(response.headers.get('location')).toBe(`/v1/jobs/${accepted.id}`);
    const done = await pollJob(h.url, accepted.id as string);
    expectDocumented('get', '/v1/jobs/{id}', 200, done);
    const direct = await scorer.score(clip2, { describe: true });
    expect(done).toMatchObject({ state: 'completed', result: { score: direct.score, description: direct.description } });
  });

  it('scores concurrent requests (two jobs at once on one model) with the same results as one at a time', async () => {
    const clips = [clip, clip2, clip, clip2];
    const responses = await Promise.all(clips.map(async (file) => post('/v1/score?wait=30', await form({ video: file }))));
    const expected = [(await scorer.score(clip)).score, (await scorer.score(clip2)).score];
    responses.forEach((response, i) => {
      expect(response.status).toBe(200);
      expect(response.body.result.score).toBeCloseTo(expected[i % 2], 6);
    });
  });

  it('compares two uploads', async () => {
    const { status, body } = await post('/v1/compare?wait=30', await form({ a: clip, b: clip2 }));
    expect(status).toBe(200);
    expectDocumented('post', '/v1/compare', 200, body);
    const direct = await scorer.compare(clip, clip2);
    expect(body.result.a.score).toBeCloseTo(direct.a.score, 6);
    expect(body.result.b.score).toBeCloseTo(direct.b.score, 6);
    expect(body.result.difference).toBeCloseTo(direct.difference, 6);
    expect(body.result.better).toBe(direct.better);
  });

  it('describes an upload', async () => {
    const { status, body } = await post('/v1/describe?wait=30', await form({ video: clip }));
    expect(status).toBe(200);
    expectDocumented('post', '/v1/describe', 200, body);
    expect(body.result).toEqual({ description: await scorer.describe(clip) });
  });

  it('scores, compares and describes files under the media root by JSON path', async () => {
    const score = await post('/v1/score?wait=30', { path: 'clip.mp4' });
    expect(score.status).toBe(200);
    expect(score.body.result.score).toBeCloseTo((await scorer.score(clip)).score, 6);
    const compare = await post('/v1/compare?wait=30', { a: 'sub/other.mp4', b: 'clip.mp4', describe: true });
    expect(compare.status).toBe(200);
    expect(compare.body.result.better).toBe((await scorer.compare(clip2, clip)).better);
    expect(compare.body.result.description).toBeTypeOf('string');
    const described = await post('/v1/describe?wait=30', { path: './sub/other.mp4' });
    expect(described.body.result.description).toBe(await scorer.describe(clip2));
    expect(existsSync(clip) && existsSync(clip2)).toBe(true); // media-root files are never deleted
  });
});

describe('refused requests', () => {
  it('403 for paths outside the media root, absolute or with ..', async () => {
    for (const path of ['../outside.mp4', 'sub/../../outside.mp4', join(root, 'outside.mp4'), 'escape.mp4']) {
      const { status, body } = await post('/v1/score', { path });
      expect(status, path).toBe(403);
      expectDocumented('post', '/v1/score', 403, body);
      expect(body.error.code).toBe('E_FORBIDDEN_PATH');
      expect(body.error.message).toContain(JSON.stringify(path));
    }
    const compare = await post('/v1/compare', { a: 'clip.mp4', b: '../outside.mp4' });
    expect(compare.status).toBe(403);
    expect(compare.body.error.message).toMatch(/^b: /);
    const missing = await post('/v1/score', { path: 'nope.mp4' });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('422 naming the problem for zero bytes, not a video, truncated (index at the end or at the start) and audio only', async () => {
    const cases = [
      ['empty.mp4', 'E_EMPTY', /zero bytes/],
      ['notes.mp4', 'E_NOT_VIDEO', /not a readable video/],
      ['truncated.mp4', 'E_NOT_VIDEO', /truncated/],
      ['faststart.mp4', 'E_TRUNCATED', /truncated: \d+ of 30 frames are present/],
      ['audio.m4a', 'E_NO_VIDEO', /no video stream/],
    ] as const;
    for (const [file, code, message] of cases) {
      const { status, body } = await post('/v1/score', await form({ video: join(root, file) }));
      expect(status, file).toBe(422);
      expectDocumented('post', '/v1/score', 422, body);
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(message);
      expect(body.error.message).toContain(`video "${file}"`);
      expect(body.error.message).not.toContain(spool);
    }
    const compare = await post('/v1/compare', await form({ a: clip, b: join(root, 'audio.m4a') }));
    expect(compare.status).toBe(422);
    expect(compare.body.error.message).toContain('b "audio.m4a"');
  });

  it('413 for an upload over the limit, while reading it and from Content-Length alone', async () => {
    const { status, body } = await post('/v1/score', await form({ video: join(root, 'big.mp4') }));
    expect(status).toBe(413);
    expectDocumented('post', '/v1/score', 413, body);
    expect(body.error.code).toBe('E_PAYLOAD_TOO_LARGE');

    const reply = await rawRequest(
      `POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${50 * MAX_UPLOAD}\r\n\r\n--b\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1.1 413/);
    expect(reply).toContain('"E_PAYLOAD_TOO_LARGE"');
  });

  it('400 for missing or unexpected fields, 415 for other content types', async () => {
    const missing = await post('/v1/compare', await form({ a: clip }));
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/missing file field "b"/);
    const unexpected = await post('/v1/score', await form({ clip }));
    expect(unexpected.status).toBe(400);
    expect(unexpected.body.error.message).toMatch(/unexpected file field "clip"/);
    const badJson = await post('/v1/score', { path: 'clip.mp4', extra: 1 });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('E_BAD_REQUEST');
    const text = await fetch(`${h.url}/v1/score`, { method: 'POST', body: 'clip.mp4', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(((await text.json())).error.code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
  });

  it('404 JSON for an unknown job and an unknown route', async () => {
    const job = await fetch(`${h.url}/v1/jobs/nope`);
    expect(job.status).toBe(404);
    const body = await job.json();
    expectDocumented('get', '/v1/jobs/{id}', 404, body);
    const route = await fetch(`${h.url}/v2/score`);
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual({ error: { code: 'E_NOT_FOUND', message: 'no route GET /v2/score' } });
  });
});

describe('operations', () => {
  it('serves healthz, readyz and Prometheus metrics', async () => {
    expect(await (await fetch(`${h.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    await post('/v1/score?wait=30', { path: 'clip.mp4' });
    await post('/v1/score', { path: '../x' });
    const metrics = await fetch(`${h.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/vqlm_http_requests_total\{method="POST",route="\/v1\/score",status="200"\} [1-9]/);
    expect(text).toMatch(/vqlm_http_requests_total\{method="POST",route="\/v1\/score",status="403"\} [1-9]/);
    expect(text).toMatch(/vqlm_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz",status="200"\} [1-9]/);
    expect(text).toContain('vqlm_queue_jobs{state="waiting"} 0');
    expect(text).toContain('vqlm_queue_jobs{state="active"} 0');
    expect(text).toMatch(/vqlm_jobs_total\{kind="score",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/vqlm_job_duration_seconds_count\{kind="score",outcome="completed"\} [1-9]/);
  });

  it('answers 503 on readyz and submissions while the model is not loaded', async () => {
    const queue = new InProcessQueue({ processor: createScorerProcessor(scorer) });
    const server = await buildServer({ queue, config: { spoolDir: join(root, 'loading-spool'), mediaRoot: media }, isReady: () => false, defaultMetrics: false });
    const url = await server.listen();
    try {
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'loading' });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const refused = await fetch(`${url}/v1/score`, { method: 'POST', body: await form({ video: clip }) });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(await refused.json()).toMatchObject({ error: { code: 'E_NOT_READY' } });
      expect(await entries(join(root, 'loading-spool'))).toEqual([]);
    } finally {
      await server.shutdown();
    }
  });

  it('refuses a media root that is not a directory', async () => {
    const queue = new InProcessQueue({ processor: createScorerProcessor(scorer) });
    await expect(buildServer({ queue, config: { spoolDir: join(root, 'x-spool'), mediaRoot: join(root, 'missing') } })).rejects.toThrow(/mediaRoot: ".*missing" is not a directory/);
  });

  it('serves an OpenAPI 3 document of the API with both request forms', () => {
    expect(openapi.openapi).toBe('3.0.3');
    const paths: Record<string, Json> = openapi.paths as Record<string, Json>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/score', '/v1/compare', '/v1/describe', '/v1/jobs/{id}', '/healthz', '/readyz', '/metrics']));
    const content: Record<string, Json> = paths['/v1/compare'].post.requestBody.content;
    expect(Object.keys(content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(content['multipart/form-data'].schema.properties.a).toEqual({ type: 'string', format: 'binary' });
    const responses: Record<string, Json> = paths['/v1/score'].post.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['200', '202', '403', '413', '422', '429']));
  });
});

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function rawRequest(text: string, options: { keepOpenMs?: number } = {}): Promise<string> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.write(text);
    if (options.keepOpenMs === undefined) setTimeout(() => socket.end(), 2000);
    setTimeout(() => reject(new Error('no answer')), 10_000);
  });
}

function openSocket(url: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('slow and vanishing clients', () => {
  let slow: Harness;
  let slowSpool: string;
  beforeAll(async () => {
    slowSpool = join(root, 'slow-spool');
    slow = await startServer(scorer, { spoolDir: slowSpool, headersTimeoutMs: 300, requestTimeoutMs: 800 });
  });
  afterAll(async () => {
    await slow.close();
  });

  async function trickle(socket: Socket, head: string, drip: string): Promise<{ ms: number; answer: string }> {
    const started = Date.now();
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.write(head);
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip);
    }, 100);
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(timer);
    return { ms: Date.now() - started, answer };
  }

  it('cuts a client that sends its headers too slowly', async () => {
    const socket = await openSocket(slow.url);
    const { ms, answer } = await trickle(socket, 'POST /v1/score HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    expect(ms).toBeLessThan(2500);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toContain('"E_REQUEST_TIMEOUT"');
  });

  it('cuts a client that sends its body too slowly and removes the partial upload', async () => {
    const socket = await openSocket(slow.url);
    const head =
      'POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000\r\n\r\n' +
      '--zz\r\nContent-Disposition: form-data; name="video"; filename="slow.mp4"\r\nContent-Type: video/mp4\r\n\r\n';
    const { ms, answer } = await trickle(socket, head, 'x'.repeat(64));
    expect(ms).toBeLessThan(3000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    await waitEmpty(slowSpool);
  });

  it('removes the spooled file when the client disconnects mid-upload', async () => {
    const socket = await openSocket(slow.url);
    socket.write(
      'POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000\r\n\r\n' +
        '--zz\r\nContent-Disposition: form-data; name="video"; filename="gone.mp4"\r\n\r\n' +
        'x'.repeat(5000),
    );
    const deadline = Date.now() + 2000;
    while ((await entries(slowSpool)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [dir] = await entries(slowSpool);
    expect(dir).toMatch(/^upload-/);
    expect(await entries(join(slowSpool, dir))).toEqual(['video.mp4']);
    socket.destroy();
    await waitEmpty(slowSpool);
  });
});

async function waitEmpty(dir: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while ((await entries(dir)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(await entries(dir)).toEqual([]);
}

describe('a full queue and shutdown', () => {
  /** The real scoring processor behind a gate the test opens. */
  function gatedServer(maxQueued: number) {
    const real = createScorerProcessor(scorer);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const started: JobInput[] = [];
    const queue = new InProcessQueue({
      concurrency: 1,
      maxQueued,
      processor: async (input, report) => {
        started.push(input);
        await gate;
        return real(input, report);
      },
    });
    return { queue, open, started };
  }

  it('answers 429 with Retry-After when the queue is full', async () => {
    const qSpool = join(root, 'full-spool');
    const { queue, open, started } = gatedServer(1);
    const server = await buildServer({ queue, config: { spoolDir: qSpool, mediaRoot: media }, defaultMetrics: false });
    const url = await server.listen();
    try {
      const submit = async (body: FormData) => fetch(`${url}/v1/score`, { method: 'POST', body });
      const first = await submit(await form({ video: clip }));
      const second = await submit(await form({ video: clip2 }));
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(started).toHaveLength(1);
      const third = await submit(await form({ video: clip }));
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = await third.json();
      expect(body).toMatchObject({ error: { code: 'E_QUEUE_FULL' } });
      expect((await entries(qSpool)).length).toBe(2); // the refused upload is gone, the two queued stay
      open();
      for (const response of [first, second]) {
        const { id } = (await response.json()) as { id: string };
        const done = await pollJob(url, id);
        expect(done.state).toBe('completed');
      }
    } finally {
      open();
      await server.shutdown();
    }
    expect(await entries(qSpool)).toEqual([]);
  });

  it('shutdown refuses new jobs (readyz 503), finishes the running job, fails the queued one and removes its files', async () => {
    const qSpool = join(root, 'drain-spool');
    const { queue, open, started } = gatedServer(4);
    const server = await buildServer({ queue, config: { spoolDir: qSpool, mediaRoot: media }, defaultMetrics: false });
    const url = await server.listen();
    const running = (await (await fetch(`${url}/v1/score`, { method: 'POST', body: await form({ video: clip }) })).json()) as { id: string };
    const waitingResponse = fetch(`${url}/v1/score?wait=30`, { method: 'POST', body: await form({ video: clip2 }) });
    while (started.length === 0 || (await queue.depth()).waiting === 0) await new Promise((r) => setTimeout(r, 10));
    const stopping = server.shutdown({ drainTimeoutMs: 10_000 });
    const waiting = await waitingResponse;
    expect(waiting.status).toBe(503);
    expect(((await waiting.json())).error.code).toBe('E_SHUTDOWN');
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const refused = await fetch(`${url}/v1/score`, { method: 'POST', body: JSON.stringify({ path: 'clip.mp4' }), headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(503);
    expect(((await refused.json())).error.code).toBe('E_SHUTTING_DOWN');
    expect((await entries(qSpool)).length).toBe(1); // the running job's upload
    open();
    await stopping;
    expect((await queue.get(running.id))?.state).toBe('completed');
    expect(await entries(qSpool)).toEqual([]);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
