import { QualityHead } from '@vqlm/heads';
import { createRng, tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from './__fixtures__/backend.js';
import { PixelEncoder } from './pixel-encoder.js';
import { Projector } from './projector.js';
import { ViT, vitConfig } from './vit.js';

beforeAll(useTestBackend);

const SIGMAS = [0, 12, 24, 48, 72];
const SIZE = 32;

/** Pairs of one random image at two noise levels: first images, second images, quality (−σ) of each. */
function makePairs(rng: ReturnType<typeof createRng>, n: number): { a: tf.Tensor; b: tf.Tensor; qa: number[]; qb: number[] } {
  const pixels = SIZE * SIZE * 3;
  const a = new Float32Array(n * pixels);
  const b = new Float32Array(n * pixels);
  const qa: number[] = [];
  const qb: number[] = [];
  for (let i = 0; i < n; i++) {
    const s1 = SIGMAS[rng.int(SIGMAS.length)];
    let s2 = SIGMAS[rng.int(SIGMAS.length)];
    while (s2 === s1) s2 = SIGMAS[rng.int(SIGMAS.length)];
    for (let j = 0; j < pixels; j++) {
      const base = 64 + 128 * rng.next();
      a[i * pixels + j] = Math.min(255, Math.max(0, base + s1 * rng.normal()));
      b[i * pixels + j] = Math.min(255, Math.max(0, base + s2 * rng.normal()));
    }
    qa.push(-s1);
    qb.push(-s2);
  }
  const shape = [n, 1, SIZE, SIZE, 3];
  return { a: tf.tensor(a, shape), b: tf.tensor(b, shape), qa, qb };
}

describe('tiny ViT + QualityHead on a toy ranking task', () => {
  it('drives the pairwise ranking hinge down and ranks held-out pairs', { timeout: 180_000 }, async () => {
    const pixel = new PixelEncoder({ vit: vitConfig('micro', { numLayers: 1 }), outputDim: 16, seed: 1 });
    const contextTower = new ViT(vitConfig('micro', { numLayers: 1 }), { trainable: false, seed: 2 });
    const contextProjector = new Projector(32, 16, { seed: 3 });
    const head = new QualityHead({ dim: 16, hidden: 16, seed: 4 });
    const variables = [...pixel.trainableVariables(), ...contextProjector.trainableVariables(), ...head.trainableVariables];
    const optimizer = tf.train.adam(2e-3);
    const rng = createRng(5);
    const before = tf.memory().numTensors;

    /** Frame scores [N] of images [N, 1, S, S, 3] (values 0..255). */
    const score = (images: tf.Tensor): tf.Tensor =>
      tf.tidy(() => {
        const context = contextProjector.apply(contextTower.forward(tf.reshape(tf.sub(tf.div(images, 127.5), 1), [-1, SIZE, SIZE, 3])));
        return head.frameScores(context, pixel.forward(images));
      });
    /** Eq. 1: mean over pairs of max(0, −(q1 − q2)(ŝ1 − ŝ2)), qualities in units of the largest σ. */
    const hinge = (sa: tf.Tensor, sb: tf.Tensor, qa: number[], qb: number[]): tf.Scalar =>
      tf.tidy(() => tf.mean(tf.relu(tf.neg(tf.mul(tf.div(tf.sub(qa, qb), 72), tf.sub(sa, sb))))));

    const losses: number[] = [];
    for (let step = 0; step < 200; step++) {
      const { a, b, qa, qb } = makePairs(rng, 8);
      const cost = optimizer.minimize(() => hinge(score(a), score(b), qa, qb), true, variables);
      losses.push((await cost!.data())[0]);
      tf.dispose([cost!, a, b]);
    }
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const first = mean(losses.slice(0, 20));
    const last = mean(losses.slice(-20));
    expect(last).toBeLessThan(0.3 * first);

    const test = makePairs(createRng(99), 64);
    const sa = await score(test.a).data();
    const sb = await score(test.b).data();
    let correct = 0;
    for (let i = 0; i < 64; i++) if (Math.sign(sa[i] - sb[i]) === Math.sign(test.qa[i] - test.qb[i])) correct++;
    expect(correct / 64).toBeGreaterThanOrEqual(0.85);
    tf.dispose([test.a, test.b]);

    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    pixel.dispose();
    contextTower.dispose();
    contextProjector.dispose();
    head.dispose();
  });
});
