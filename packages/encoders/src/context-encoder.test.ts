import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { FeatureCache, contentHash } from './feature-cache.js';
import type { U8Batch } from './frames.js';
import { OnnxContextEncoder } from './onnx-context-encoder.js';
import { exportVitToOnnx } from './onnx-export.js';
import { TfjsContextEncoder } from './tfjs-context-encoder.js';
import { ViT, vitConfig } from './vit.js';

const dir = mkdtempSync(join(tmpdir(), 'vqlm-context-'));
beforeAll(useTestBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 448-input tower small enough for tests: 64×64 patches → 7×7 grid + class token = 50 tokens of width 32. */
const towerConfig = vitConfig('micro', { imageSize: 448, patchSize: 64 });

function randomFrames(m: number, seed: number): U8Batch {
  const rng = createRng(seed);
  const data = new Uint8Array(m * 448 * 448 * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, dims: [m, 448, 448, 3] };
}

describe('TfjsContextEncoder', () => {
  it('maps [M, 448, 448, 3] u8 to [M, Th, D] with a trainable projector only', async () => {
    const encoder = await TfjsContextEncoder.create({ vit: new ViT(towerConfig, { trainable: false, seed: 3 }), outputDim: 16 });
    expect(encoder.numTokens).toBe(50);
    expect(encoder.featureDim).toBe(32);
    expect(encoder.id).toMatch(/^tfjs-vit-[0-9a-f]{16}$/);
    const frames = randomFrames(2, 1);
    await noLeak(async () => {
      const features = await encoder.features(frames);
      expect(features.shape).toEqual([2, 50, 32]);
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(encoder.project(features))), encoder.trainableVariables());
      expect(Object.keys(grads)).toHaveLength(2);
      const out = await encoder.encode(frames);
      expect(out.shape).toEqual([2, 50, 16]);
      tf.dispose([features, value, out, ...Object.values(grads)]);
    });
    await encoder.dispose();
  });

  it('runs the frozen tower once per frame across two epochs with a FeatureCache', async () => {
    const cacheDir = join(dir, 'cache');
    const encoder = await TfjsContextEncoder.create({ vit: new ViT(towerConfig, { trainable: false, seed: 3 }), outputDim: 8, batchSize: 2 });
    const tower = vi.spyOn(encoder.vit, 'forward');
    const cache = new FeatureCache(cacheDir);
    const frames = randomFrames(3, 2);
    const epochs: Float32Array[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      const features = await encoder.features(frames, { cache, frameIndices: [0, 10, 20] });
      epochs.push((await features.data()) as Float32Array);
      features.dispose();
    }
    expect(encoder.framesEncoded).toBe(3);
    expect(tower.mock.calls.map((c) => c[0].shape[0])).toEqual([2, 1]);
    expect(cache.hits).toBe(3);
    expect(cache.misses).toBe(3);
    expect(maxAbsDiff(epochs[0], epochs[1])).toBe(0);
    const entries = readdirSync(join(cacheDir, encoder.id), { recursive: true }).filter((f) => String(f).endsWith('.f32'));
    expect(entries).toHaveLength(3);
    // One changed frame is encoded again; the others still come from disk.
    const changed = { data: frames.data.slice(), dims: frames.dims };
    changed.data[5] ^= 0xff;
    (await encoder.features(changed, { cache, frameIndices: [0, 10, 20] })).dispose();
    expect(encoder.framesEncoded).toBe(4);
    await encoder.dispose();
  });

  it('rejects bad calls with E_SHAPE / E_ARG naming the argument', async () => {
    await expect(TfjsContextEncoder.create({ vit: new ViT(towerConfig), outputDim: 4 })).rejects.toThrow(/^vit: the context tower must be frozen/);
    const encoder = await TfjsContextEncoder.create({ vit: new ViT(towerConfig, { trainable: false }), outputDim: 4 });
    const small = { data: new Uint8Array(2 * 224 * 224 * 3), dims: [2, 224, 224, 3] };
    const err = await encoder.features(small).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncoderError);
    expect((err as EncoderError).code).toBe('E_SHAPE');
    expect((err as Error).message).toBe('frames: expected shape [M, 448, 448, 3], got [2, 224, 224, 3]');
    await expect(encoder.features(randomFrames(2, 1), { frameIndices: [1] })).rejects.toThrow(/^frameIndices: expected shape \[2\], got \[1\]$/);
    await expect(encoder.features({ data: new Uint8Array(10), dims: [1, 448, 448, 3] })).rejects.toThrow(/^frames: data holds 10 bytes/);
    const wrong = tf.zeros([1, 49, 32]);
    expect(() => encoder.project(wrong)).toThrow(/^features: expected shape \[M, 50, 32\], got \[1, 49, 32\]$/);
    wrong.dispose();
    await encoder.dispose();
    await expect(encoder.features(randomFrames(1, 1))).rejects.toThrow(/used after dispose/);
  });
});

describe('OnnxContextEncoder', () => {
  it('runs an exported ViT under ONNX Runtime and matches the tfjs encoder', async () => {
    const vit = new ViT(towerConfig, { trainable: false, seed: 5 });
    const path = join(dir, 'tower.onnx');
    await exportVitToOnnx(vit, path);
    const tfjsEncoder = await TfjsContextEncoder.create({ vit, outputDim: 8, seed: 1 });
    const onnxEncoder = await OnnxContextEncoder.create({ model: path, outputDim: 8, seed: 1, threads: 1 });
    expect(onnxEncoder.numTokens).toBe(50);
    expect(onnxEncoder.featureDim).toBe(32);
    expect(onnxEncoder.id).toMatch(/^onnx-[0-9a-f]{16}$/);
    const frames = randomFrames(3, 4);
    await noLeak(async () => {
      const a = await tfjsEncoder.encode(frames);
      const b = await onnxEncoder.encode(frames);
      expect(b.shape).toEqual([3, 50, 8]);
      expect(maxAbsDiff(await a.data(), await b.data())).toBeLessThan(1e-4);
      tf.dispose([a, b]);
    });
    // Cached ONNX features are reused across epochs too.
    const cache = new FeatureCache(join(dir, 'onnx-cache'));
    const before = onnxEncoder.framesEncoded;
    for (let epoch = 0; epoch < 2; epoch++) (await onnxEncoder.features(frames, { cache, contentHash: contentHash(new Uint8Array([1, 2, 3])) })).dispose();
    expect(onnxEncoder.framesEncoded - before).toBe(3);
    await expect(OnnxContextEncoder.create({ model: path, outputDim: 8, inputName: 'images' })).rejects.toThrow(
      /^inputName: model has no input "images" \(inputs: pixel_values\)$/,
    );
    await Promise.all([tfjsEncoder.dispose(), onnxEncoder.dispose()]);
  });
});

describe('FeatureCache', () => {
  it('treats a corrupt entry as a miss and validates keys', async () => {
    const cache = new FeatureCache(join(dir, 'fc'));
    const key = { encoderId: 'enc/1', contentHash: contentHash(new Uint8Array([9])), frameIndex: 2 };
    await cache.put(key, { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3] });
    expect(await cache.get(key, [2, 3])).toEqual({ data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3] });
    expect(await cache.get(key, [3, 2])).toBeUndefined();
    writeFileSync(cache.pathOf(key), 'garbage');
    expect(await cache.get(key)).toBeUndefined();
    expect(cache.pathOf(key)).toContain('enc_1');
    expect(() => cache.pathOf({ ...key, contentHash: 'xyz' })).toThrow(/^contentHash: expected 8–128 lowercase hex digits, got "xyz"$/);
    expect(() => cache.pathOf({ ...key, frameIndex: -1 })).toThrow(/^frameIndex: expected an integer ≥ 0, got -1$/);
    await expect(cache.put(key, { data: new Float32Array(2), dims: [3] })).rejects.toThrow(/^feature: 2 values for shape \[3\]$/);
  });
});
