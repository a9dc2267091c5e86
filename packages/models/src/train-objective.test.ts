import { describe, expect, it } from 'vitest';
import { tf } from '@vqlm/runtime';
import { CpLlm } from './cp-llm.js';
import { ModelError } from './errors.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { IGNORE_LABEL, cpLlmObjective, type CpLlmTrainBatch } from './train-objective.js';
import { bytes, useTestBackend } from './__fixtures__/tiny.js';

async function microModel(): Promise<CpLlm> {
  await useTestBackend();
  return CpLlm.create(cpLlmPreset('micro', { seed: 7 }), { tokenizer: presetTokenizer('micro'), trainDecoderBase: true });
}

/** Four rows: two singles with targets, two pairs; views are fixed random bytes. */
function makeBatch(model: CpLlm): CpLlmTrainBatch {
  const { m, k, patchSize: p } = model.config;
  const b = 4;
  const view = (seed: number) => ({ data: bytes(b * m * k * p * p * 3, seed), dims: [b, m, k, p, p, 3] });
  const ids = model.tokenizer.encode('the video is sharp and clean.');
  const bos = model.tokenizer.bosTokenId!;
  const inputIds = Array.from({ length: b }, () => [bos, ...ids]);
  const labels = Array.from({ length: b }, () => [...ids, IGNORE_LABEL]);
  return {
    first: { contextFeatures: tf.zeros([b, m, model.contextEncoder.numTokens, model.contextEncoder.featureDim]), pixel: view(2) },
    second: { contextFeatures: tf.zeros([b, m, model.contextEncoder.numTokens, model.contextEncoder.featureDim]), pixel: view(3) },
    secondVisible: [false, false, true, true],
    inputIds,
    labels,
    scoreTargets: [4.5, 1.5, null, null],
    rankLabels: [null, null, [4, 2], [1, 3]],
  };
}

function sliceRows(view: { data: Uint8Array; dims: number[] }, from: number, to: number): { data: Uint8Array; dims: number[] } {
  const size = view.dims.slice(1).reduce((a, b) => a * b, 1);
  return { data: view.data.slice(from * size, to * size), dims: [to - from, ...view.dims.slice(1)] };
}

describe('cpLlmObjective', () => {
  it('a few Adam steps lower every loss part', async () => {
    const model = await microModel();
    const batch = makeBatch(model);
    const optimizer = tf.train.adam(1e-2);
    const history: Record<string, number>[] = [];
    for (let step = 0; step < 25; step++) {
      optimizer.minimize(() => {
        const { total, parts } = cpLlmObjective(model, batch);
        history.push(parts);
        return total;
      }, false, model.trainableVariables());
    }
    const first = history[0];
    const last = history[history.length - 1];
    expect(Object.keys(first).sort()).toEqual(['ce', 'mse', 'rank']);
    expect(last.mse).toBeLessThan(first.mse * 0.5);
    expect(last.ce).toBeLessThan(first.ce * 0.8);
    expect(last.rank).toBeLessThanOrEqual(first.rank);
    expect(first.rank + first.mse).toBeGreaterThan(0);
    optimizer.dispose();
    tf.dispose([batch.first.contextFeatures, batch.second.contextFeatures]);
    await model.dispose();
  });

  it('does not encode a hidden second input: rows give the same scores and logits as in batches of their own kind', async () => {
    const model = await microModel();
    const batch = makeBatch(model);
    const rows = (from: number, to: number) => ({
      first: { contextFeatures: tf.slice(batch.first.contextFeatures, from, to - from), pixel: sliceRows(batch.first.pixel as { data: Uint8Array; dims: number[] }, from, to) },
      second: { contextFeatures: tf.slice(batch.second.contextFeatures, from, to - from), pixel: sliceRows(batch.second.pixel as { data: Uint8Array; dims: number[] }, from, to) },
      secondVisible: batch.secondVisible.slice(from, to),
      targetTokenIds: batch.inputIds.slice(from, to),
    });
    const mixed = model.forward({ first: batch.first, second: batch.second, secondVisible: batch.secondVisible, targetTokenIds: batch.inputIds });
    const singles = model.forward(rows(0, 2));
    const pairs = model.forward(rows(2, 4));
    const close = async (a: tf.Tensor, b: tf.Tensor) => {
      const [x, y] = [await a.data(), await b.data()];
      expect(x.length).toBe(y.length);
      x.forEach((v, i) => expect(Math.abs(v - y[i])).toBeLessThan(1e-4));
    };
    await close(tf.slice(mixed.logits, 0, 2), singles.logits);
    await close(tf.slice(mixed.logits, 2, 2), pairs.logits);
    await close(tf.slice(mixed.second!.videoScores, 2, 2), pairs.second!.videoScores);
    await close(tf.slice(mixed.first.videoScores, 0, 2), singles.first.videoScores);
    await model.dispose();
  });

  it('passes rankMargin to the ranking hinge: pairs of equal predictions cost margin × label gap', async () => {
    const model = await microModel();
    const batch = makeBatch(model);
    const twins: CpLlmTrainBatch = { ...batch, second: batch.first }; // both inputs of a pair score the same
    const plain = tf.tidy(() => cpLlmObjective(model, twins).parts);
    const withMargin = tf.tidy(() => cpLlmObjective(model, twins, { rankMargin: 0.25 }).parts);
    expect(plain.rank).toBe(0);
    expect(withMargin.rank).toBeCloseTo(0.25 * 2, 5); // label gaps |4 − 2| = |1 − 3| = 2
    expect(withMargin.mse).toBeCloseTo(plain.mse!, 6);
    tf.dispose([batch.first.contextFeatures, batch.second.contextFeatures]);
    await model.dispose();
  });

  it('leaves out parts without rows and names bad batch fields', async () => {
    const model = await microModel();
    const batch = makeBatch(model);
    const singles: CpLlmTrainBatch = { ...batch, rankLabels: [null, null, null, null] };
    const parts = tf.tidy(() => cpLlmObjective(model, singles, { weights: { ce: 0 } }).parts);
    expect(Object.keys(parts)).toEqual(['mse']);
    expect(() => tf.tidy(() => cpLlmObjective(model, { ...batch, scoreTargets: [1] }).total)).toThrow(/batch.scoreTargets: expected 4 rows, got 1/);
    expect(() => tf.tidy(() => cpLlmObjective(model, { ...batch, rankLabels: [[1, 2], null, null, null] }).total)).toThrow(ModelError);
    expect(() => tf.tidy(() => cpLlmObjective(model, batch, { weights: { mse: -1 } }).total)).toThrow(/weights.mse/);
    tf.dispose([batch.first.contextFeatures, batch.second.contextFeatures]);
    await model.dispose();
  });
});
