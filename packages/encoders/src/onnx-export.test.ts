import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxSession, tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { OnnxGraphBuilder } from './onnx-graph.js';
import { addVitToGraph, exportVitToOnnx, temporalEncoderToOnnx, vitToOnnx } from './onnx-export.js';
import { TemporalEncoder } from './temporal-encoder.js';
import { ViT, vitConfig } from './vit.js';

const dir = mkdtempSync(join(tmpdir(), 'vqlm-onnx-export-'));
beforeAll(useTestBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Random, larger-than-init weights so every path of the graph matters. */
function randomize(vit: ViT, seed: number): void {
  vit.params.names().forEach((name, i) => {
    const t = tf.tidy(() => {
      const r = tf.randomNormal(vit.params.shape(name), 0, 0.3, 'float32', seed + i);
      return name.endsWith('gamma') ? tf.add(r, 1) : r;
    });
    vit.params.set(name, t);
    t.dispose();
  });
}

describe('ONNX export of a ViT', () => {
  const cases = [
    { label: 'ViT (class token, exact GELU, NCHW)', overrides: {}, layout: 'nchw' as const, size: 32 },
    { label: 'SigLIP-style (no class token, tanh GELU, NHWC, resampled positions)', overrides: { classToken: false, gelu: 'tanh' as const }, layout: 'nhwc' as const, size: 48 },
  ];
  for (const { label, overrides, layout, size } of cases) {
    it(`agrees with tfjs within 1e-4 under ONNX Runtime: ${label}`, async () => {
      const vit = new ViT(vitConfig('micro', overrides), { trainable: false });
      randomize(vit, 40);
      const path = join(dir, `vit-${layout}.onnx`);
      await exportVitToOnnx(vit, path, { inputLayout: layout, imageSize: size });
      const session = await createOnnxSession(path, { threads: 1 });
      try {
        expect(session.inputNames).toEqual(['pixel_values']);
        expect(session.outputNames).toEqual(['last_hidden_state']);
        for (const batch of [1, 3]) {
          const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', batch);
          const expected = vit.forward(x);
          const fed = layout === 'nchw' ? tf.transpose(x, [0, 3, 1, 2]) : tf.clone(x);
          const out = await session.run({ pixel_values: { data: await fed.data(), dims: fed.shape } });
          const got = out.last_hidden_state;
          expect(got.dims).toEqual(expected.shape);
          expect(maxAbsDiff(got.data, await expected.data())).toBeLessThan(1e-4);
          tf.dispose([x, expected, fed]);
        }
      } finally {
        await session.dispose();
        vit.dispose();
      }
    });
  }

  it('addVitToGraph puts the ViT inside a larger graph (here: tokens pooled by ReduceMean)', async () => {
    const vit = new ViT(vitConfig('micro'), { trainable: false });
    randomize(vit, 7);
    const g = new OnnxGraphBuilder();
    const input = g.input({ name: 'images', dtype: 'float32', dims: ['batch', 32, 32, 3] });
    const tokens = await addVitToGraph(g, vit, input, { inputLayout: 'nhwc' });
    g.output(g.node('ReduceMean', [tokens], { axes: { ints: [1] }, keepdims: { int: 0 } }), { name: 'pooled', dtype: 'float32', dims: ['batch', vit.config.hiddenSize] });
    const session = await createOnnxSession(g.toBytes(), { threads: 1 });
    try {
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3);
      const expected = tf.tidy(() => tf.mean(vit.forward(x), 1));
      const out = (await session.run({ images: { data: await x.data(), dims: x.shape } })).pooled;
      expect(out.dims).toEqual([2, vit.config.hiddenSize]);
      expect(maxAbsDiff(out.data, await expected.data())).toBeLessThan(1e-4);
      tf.dispose([x, expected]);
    } finally {
      await session.dispose();
      vit.dispose();
    }
    const other = new ViT(vitConfig('micro'));
    await expect(addVitToGraph(new OnnxGraphBuilder(), other, 'x', { inputLayout: 'nwhc' as 'nhwc' })).rejects.toThrow(/^inputLayout: expected "nchw" or "nhwc", got "nwhc"$/);
    other.dispose();
  });

  it('rejects an image size that is not a multiple of the patch size', async () => {
    const vit = new ViT(vitConfig('micro'));
    const err = await vitToOnnx(vit, { imageSize: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncoderError);
    expect((err as Error).message).toMatch(/^imageSize: expected a multiple of the patch size 8, got 30$/);
    vit.dispose();
  });
});

describe('ONNX export of a temporal encoder', () => {
  /** A small encoder with random, larger-than-init weights (projector included). */
  function randomEncoder(): TemporalEncoder {
    const encoder = new TemporalEncoder({ numFrames: 4, imageSize: 32, tubeletFrames: 2, patchSize: 8, hiddenSize: 16, numLayers: 2, numHeads: 2, mlpDim: 32, outputDim: 24, seed: 3 });
    for (const [store, seed] of [[encoder.params, 50], [encoder.projector.params, 90]] as const) {
      store.names().forEach((name, i) => {
        const t = tf.tidy(() => {
          const r = tf.randomNormal(store.shape(name), 0, 0.3, 'float32', seed + i);
          return name.endsWith('gamma') ? tf.add(r, 1) : r;
        });
        store.set(name, t);
        t.dispose();
      });
    }
    return encoder;
  }

  for (const rawPixels of [false, true]) {
    it(`agrees with TemporalEncoder.forward within 1e-4 under ONNX Runtime (${rawPixels ? 'raw 0..255 pixels, normalised in the graph' : 'normalised input'})`, async () => {
      const encoder = randomEncoder();
      const session = await createOnnxSession(await temporalEncoderToOnnx(encoder, { rawPixels }), { threads: 1 });
      try {
        expect(session.inputNames).toEqual(['clips']);
        expect(session.outputNames).toEqual(['temporal_tokens']);
        for (const batch of [1, 2]) {
          const pixels = tf.tidy(() => tf.floor(tf.randomUniform([batch, 4, 32, 32, 3], 0, 256, 'float32', batch)));
          const expected = encoder.forward(pixels);
          // The normalised input is what forward computes from the pixels: (x / 255 − 0.5) / 0.5.
          const fed = rawPixels ? tf.clone(pixels) : tf.tidy(() => tf.sub(tf.div(pixels, 127.5), 1));
          const out = (await session.run({ clips: { data: await fed.data(), dims: fed.shape } })).temporal_tokens;
          expect(out.dims).toEqual([batch, 2, 24]);
          expect(maxAbsDiff(out.data, await expected.data())).toBeLessThan(1e-4);
          tf.dispose([pixels, expected, fed]);
        }
      } finally {
        await session.dispose();
        encoder.dispose();
      }
    });
  }

  it('every stage matters: tubelets in the wrong frame order change the tokens', async () => {
    const encoder = randomEncoder();
    const session = await createOnnxSession(await temporalEncoderToOnnx(encoder, { rawPixels: true }), { threads: 1 });
    try {
      const pixels = tf.tidy(() => tf.floor(tf.randomUniform([1, 4, 32, 32, 3], 0, 256, 'float32', 9)));
      const swapped = tf.tidy(() => tf.concat([tf.slice(pixels, [0, 1], [1, 1]), tf.slice(pixels, [0, 0], [1, 1]), tf.slice(pixels, [0, 2], [1, 2])], 1));
      const run = async (x: tf.Tensor) => (await session.run({ clips: { data: await x.data(), dims: x.shape } })).temporal_tokens.data;
      expect(maxAbsDiff(await run(pixels), await run(swapped))).toBeGreaterThan(1e-3);
      tf.dispose([pixels, swapped]);
    } finally {
      await session.dispose();
      encoder.dispose();
    }
  });
});
