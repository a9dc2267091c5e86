import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';
import { runPool } from './pool.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runPool', () => {
  it('never runs more than `concurrency` tasks at once and runs them all', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    const tasks = Array.from({ length: 9 }, (_, i) => async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(5 + (i % 3) * 3);
      running -= 1;
      done.push(i);
    });
    await runPool(tasks, 3);
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('stops starting tasks once aborted, and rethrows the first failure after the others settle', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) => async () => {
      started.push(i);
      if (i === 1) controller.abort();
      await sleep(2);
    });
    await runPool(tasks, 1, controller.signal);
    expect(started).toEqual([0, 1]);
    let settled = false;
    const failing = [
      async () => {
        await sleep(1);
        throw new Error('boom');
      },
      async () => {
        await sleep(10);
        settled = true;
      },
    ];
    await expect(runPool(failing, 2)).rejects.toThrow('boom');
    expect(settled).toBe(true);
  });
});

describe('writeFileAtomic', () => {
  it('creates directories, replaces the file, and leaves no temp file, also on failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vqlm-atomic-'));
    try {
      const file = join(dir, 'a', 'b', 'x.json');
      await writeFileAtomic(file, 'one');
      await writeFileAtomic(file, 'two');
      expect(await readFile(file, 'utf8')).toBe('two');
      await mkdir(join(dir, 'isdir'));
      await expect(writeFileAtomic(join(dir, 'isdir'), 'x')).rejects.toThrow();
      expect((await readdir(dir)).sort()).toEqual(['a', 'isdir']);
      expect(await readdir(join(dir, 'a', 'b'))).toEqual(['x.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
