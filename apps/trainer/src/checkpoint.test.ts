import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, type BackendName } from '@vqlm/runtime';
import { loadLatestCheckpoint, restoreCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName, log: () => undefined });
  dir = await mkdtemp(join(tmpdir(), 'vqlm-checkpoint-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const state = (step: number): TrainState => ({ version: 1, fingerprint: 'f', step, epoch: 0, sampler: { version: 1, seed: 0, epoch: 0, batch: step, fingerprint: 1 }, evaluatedEpochs: 0, savedAt: 'now' });

describe('checkpoints', () => {
  it('keep the newest ones, drop stale later steps, and restore variables and optimizer state', async () => {
    const run = join(dir, 'run');
    // A stale checkpoint of a later step (an abandoned timeline) must not survive, nor push out the live ones.
    await mkdir(join(run, 'checkpoints', 'step-00000009'), { recursive: true });
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'ckpt_test_v');
    const optimizer = tf.train.adam(0.1);
    for (const step of [1, 2, 3]) {
      optimizer.minimize(() => tf.sum(tf.square(v)), false, [v]);
      await saveCheckpoint(run, [v], optimizer, state(step), 2);
    }
    expect((await readdir(join(run, 'checkpoints'))).sort()).toEqual(['latest.json', 'step-00000002', 'step-00000003']);
    expect(JSON.parse(await readFile(join(run, 'checkpoints', 'latest.json'), 'utf8'))).toEqual({ checkpoint: 'step-00000003', step: 3 });
    const saved = Array.from(await v.data());
    const savedMoments = await Promise.all((await optimizer.getWeights()).map(async (w) => Array.from(await w.tensor.data())));

    v.assign(tf.tensor1d([0, 0, 0]));
    const fresh = tf.train.adam(0.1);
    const loaded = await loadLatestCheckpoint(run, 'f');
    expect(loaded.state.step).toBe(3);
    await restoreCheckpoint(loaded, [v], fresh);
    expect(Array.from(await v.data())).toEqual(saved);
    const moments = await Promise.all((await fresh.getWeights()).map(async (w) => Array.from(await w.tensor.data())));
    expect(moments).toEqual(savedMoments);
    await expect(loadLatestCheckpoint(run, 'other')).rejects.toThrow(/other settings/);
    optimizer.dispose();
    fresh.dispose();
    v.dispose();
  });
});
