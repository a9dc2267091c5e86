import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../__fixtures__/harness.js';
import { E_SHUTDOWN, InProcessQueue } from './in-process-queue.js';
import { QueueFullError, type JobInput, type JobRecord } from './queue.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir);
});

async function ownedFile(name: string): Promise<string> {
  const dir = await makeTempDir('queue');
  dirs.push(dir);
  const path = join(dir, name);
  await mkdir(path);
  await writeFile(join(path, 'video.mp4'), 'x');
  return path;
}

/** A processor whose jobs finish when the test says so. */
function gated() {
  const gates: { input: JobInput; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  const processor = (input: JobInput) => new Promise<unknown>((resolve, reject) => gates.push({ input, resolve, reject }));
  return { gates, processor };
}

const input = (owned: string[] = []): JobInput => ({ kind: 'score', videos: ['v.mp4'], owned });

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('InProcessQueue', () => {
  it('runs at most `concurrency` jobs and refuses beyond maxQueued with a Retry-After', async () => {
    const { gates, processor } = gated();
    const queue = new InProcessQueue({ processor, concurrency: 2, maxQueued: 1 });
    const a = await queue.add(input());
    await queue.add(input());
    const c = await queue.add(input());
    expect(a.state).toBe('running');
    expect(c.state).toBe('queued');
    expect(await queue.depth()).toEqual({ waiting: 1, active: 2 });
    expect((await queue.get(a.id))?.state).toBe('running');
    expect((await queue.get(c.id))?.state).toBe('queued');
    const full = await queue.add(input()).catch((error: unknown) => error);
    expect(full).toBeInstanceOf(QueueFullError);
    expect((full as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    gates[0].resolve({ ok: 1 });
    await until(async () => (await queue.depth()).waiting === 0);
    expect((await queue.get(a.id))?.state).toBe('completed');
    expect((await queue.get(a.id))?.result).toEqual({ ok: 1 });
    expect((await queue.get(c.id))?.state).toBe('running');
    gates[1].resolve(1);
    gates[2].resolve(2);
    await queue.close();
  });

  it('records a processor error as failed with its code and removes owned files either way', async () => {
    const { gates, processor } = gated();
    const queue = new InProcessQueue({ processor });
    const finished: JobRecord[] = [];
    queue.on('finished', (record) => finished.push(record));
    const ok = await ownedFile('ok');
    const bad = await ownedFile('bad');
    const first = await queue.add(input([ok]));
    const second = await queue.add(input([bad]));
    gates[0].resolve({ score: 3 });
    await until(() => gates.length === 2);
    expect(existsSync(ok)).toBe(false);
    gates[1].reject(Object.assign(new Error('v.mp4 cannot be decoded'), { code: 'E_DECODE' }));
    await until(() => finished.length === 2);
    expect(existsSync(bad)).toBe(false);
    const failed = await queue.get(second.id);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'E_DECODE', message: 'v.mp4 cannot be decoded' }, attempts: 1 });
    expect(failed?.finishedAt).toBeTypeOf('string');
    expect(finished.map((r) => r.id)).toEqual([first.id, second.id]);
    expect(finished[0]).toMatchObject({ state: 'completed', progress: 1 });
    await queue.close();
  });

  it('clamps progress to 0..1 and never lets it go backwards', async () => {
    let report: (p: number) => void = () => undefined;
    let finish: () => void = () => undefined;
    const queue = new InProcessQueue({
      processor: (_input, r) => {
        report = r;
        return new Promise((resolve) => (finish = () => resolve(null)));
      },
    });
    const job = await queue.add(input());
    await until(async () => (await queue.get(job.id))?.state === 'running');
    report(0.4);
    report(0.2);
    expect((await queue.get(job.id))?.progress).toBe(0.4);
    report(7);
    expect((await queue.get(job.id))?.progress).toBe(1);
    finish();
    await queue.close();
  });

  it('forgets finished records after the TTL or beyond maxFinished', async () => {
    const queue = new InProcessQueue({ processor: () => Promise.resolve(1), maxFinished: 2, finishedTtlMs: 200 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = await queue.add(input());
      ids.push(id);
      await until(async () => (await queue.get(id))?.state === 'completed');
    }
    expect(await queue.get(ids[0])).toBeNull();
    expect((await queue.get(ids[2]))?.state).toBe('completed');
    await new Promise((r) => setTimeout(r, 250));
    expect(await queue.get(ids[2])).toBeNull();
    await queue.close();
  });

  it('close() fails queued jobs with E_SHUTDOWN, removes their files, waits for running ones up to the timeout', async () => {
    const { gates, processor } = gated();
    const queue = new InProcessQueue({ processor, maxQueued: 4 });
    const owned = await ownedFile('queued');
    const running = await queue.add(input());
    const queued = await queue.add(input([owned]));
    let closed = false;
    const closing = queue.close({ drain: true, timeoutMs: 5000 }).then(() => (closed = true));
    await until(async () => (await queue.get(queued.id))?.state === 'failed');
    expect((await queue.get(queued.id))?.error?.code).toBe(E_SHUTDOWN);
    expect(existsSync(owned)).toBe(false);
    await expect(queue.add(input())).rejects.toMatchObject({ code: E_SHUTDOWN });
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(false);
    gates[0].resolve('done');
    await closing;
    expect((await queue.get(running.id))?.state).toBe('completed');

    const stuck = new InProcessQueue({ processor: () => new Promise(() => undefined) });
    await stuck.add(input());
    const started = Date.now();
    await stuck.close({ drain: true, timeoutMs: 100 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('rejects bad limits', () => {
    expect(() => new InProcessQueue({ processor: () => Promise.resolve(), concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new InProcessQueue({ processor: () => Promise.resolve(), maxQueued: -1 })).toThrow(/maxQueued/);
  });
});
