import { describe, expect, it } from 'vitest';
import { tf } from '@vqlm/runtime';
import { CpLlm } from './cp-llm.js';
import { ModelError } from './errors.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { LmmVqa, lmmVqaAnswer } from './lmm-vqa.js';
import { IGNORE_LABEL, cpLlmDescribeObjective, cpLlmObjective, lmmVqaObjective, type CpLlmTrainBatch, type LmmVqaTrainBatch } from './train-objective.js';
import { bytes, microLmmVqaConfig, useTestBackend } from './__fixtures__/tiny.js';
import { buildWordPieceTokenizer } from '@vqlm/decoder-lora';

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

describe('cpLlmDescribeObjective', () => {
  it("equals cpLlmObjective's ce on the same single rows, trains the prompt's embeddings, and names a bad batch", async () => {
    const model = await microModel();
    const full = makeBatch(model);
    const singles: CpLlmTrainBatch = {
      first: { contextFeatures: tf.slice(full.first.contextFeatures, 0, 2), pixel: sliceRows(full.first.pixel as { data: Uint8Array; dims: number[] }, 0, 2) },
      second: { contextFeatures: tf.slice(full.first.contextFeatures, 0, 2), pixel: sliceRows(full.first.pixel as { data: Uint8Array; dims: number[] }, 0, 2) },
      secondVisible: [false, false],
      inputIds: full.inputIds.slice(0, 2),
      labels: full.labels.slice(0, 2).map((row) => row.map((id, i) => (i < 2 ? IGNORE_LABEL : id))),
      scoreTargets: [null, null],
      rankLabels: [null, null],
    };
    const visual = model.visualTokens(singles.first);
    const describe = { visual, inputIds: singles.inputIds, labels: singles.labels };
    const reference = tf.tidy(() => cpLlmObjective(model, singles, { weights: { mse: 0, rank: 0 } }).parts.ce!);
    const result = tf.tidy(() => cpLlmDescribeObjective(model, describe).parts.ce!);
    expect(Math.abs(result - reference)).toBeLessThan(1e-5);
    // The describe prompt's embeddings get a gradient (the decoder's embedding table), as in cpLlmObjective.
    const embedding = model.decoder.trainableVariables().find((v) => /embed/.test(v.name))!;
    const promptOnly = model.tokenizer.encode(model.config.prompts.describe).find((id) => !describe.inputIds.flat().includes(id))!;
    const { grads } = tf.variableGrads(() => cpLlmDescribeObjective(model, describe).total, [embedding]);
    // The table is [D, V] (tied with the output projection): the token's column.
    const column = ((await grads[embedding.name].array()) as number[][]).map((row) => row[promptOnly]);
    expect(Math.max(...column.map(Math.abs))).toBeGreaterThan(0);
    tf.dispose(grads);
    expect(() => cpLlmDescribeObjective(model, { ...describe, labels: [describe.labels[0]] })).toThrow(/batch\.labels: expected 2 rows, got 1/);
    expect(() => cpLlmDescribeObjective(model, { ...describe, visual: tf.zeros([2, 3]) as unknown as tf.Tensor3D })).toThrow(/batch\.visual: expected a \[B, N, D\] tensor, got \[2, 3\]/);
    tf.dispose([visual, singles.first.contextFeatures, singles.second.contextFeatures, full.first.contextFeatures, full.second.contextFeatures]);
    await model.dispose();
  });
});

describe('lmmVqaObjective', () => {
  async function lmm(): Promise<{ model: LmmVqa; batch: LmmVqaTrainBatch }> {
    await useTestBackend();
    const targets = [4.6, 1.4, 3.0, null];
    const answers = targets.map((t) => lmmVqaAnswer(t ?? 3, t === null ? 'fair' : t > 4.2 ? 'excellent' : t < 1.8 ? 'bad' : 'fair'));
    const tokenizer = buildWordPieceTokenizer([...answers, 'how would you rate the quality of this video? answer with a score and a level.'], { vocabSize: 96 });
    const model = new LmmVqa(microLmmVqaConfig({ seed: 5 }), { tokenizer, trainDecoderBase: true });
    const { m, spatialVit, temporal } = model.config;
    const b = targets.length;
    const s = spatialVit.imageSize;
    const bos = model.tokenizer.bosTokenId!;
    const encoded = answers.map((a) => model.tokenizer.encode(a));
    const width = Math.max(...encoded.map((ids) => ids.length));
    const inputIds = encoded.map((ids) => [bos, ...ids, ...new Array<number>(width - ids.length).fill(0)]);
    const labels = encoded.map((ids) => [...ids, ...new Array<number>(width - ids.length + 1).fill(IGNORE_LABEL)]);
    return {
      model,
      batch: {
        frames: { data: bytes(b * m * s * s * 3, 11), dims: [b, m, s, s, 3] },
        clip: { data: bytes(b * temporal.numFrames * temporal.imageSize ** 2 * 3, 12), dims: [b, temporal.numFrames, temporal.imageSize, temporal.imageSize, 3] },
        inputIds,
        labels,
        scoreTargets: targets,
      },
    };
  }

  it('a few Adam steps lower every loss part; the level head learns the targets\' levels', async () => {
    const { model, batch } = await lmm();
    const optimizer = tf.train.adam(1e-2);
    const history: Record<string, number>[] = [];
    for (let step = 0; step < 25; step++) {
      optimizer.minimize(() => {
        const { total, parts } = lmmVqaObjective(model, batch);
        history.push(parts);
        return total;
      }, false, model.trainableVariables());
    }
    const [first, last] = [history[0], history[history.length - 1]];
    expect(Object.keys(first).sort()).toEqual(['ce', 'level', 'mse']);
    expect(last.ce).toBeLessThan(first.ce * 0.8);
    expect(last.level).toBeLessThan(first.level * 0.5);
    expect(last.mse).toBeLessThan(first.mse * 0.5);
    const out = model.forward({ frames: batch.frames, clip: batch.clip, targetTokenIds: batch.inputIds });
    const scores = Array.from(await out.levelScores.data());
    tf.dispose([out.levelLogits, out.levelScores, out.logits]);
    expect(scores[0]).toBeGreaterThan(scores[2]);
    expect(scores[2]).toBeGreaterThan(scores[1]);
    optimizer.dispose();
    await model.dispose();
  });

  it('leaves out parts without rows and names bad batch fields', async () => {
    const { model, batch } = await lmm();
    const unlabelled = { ...batch, scoreTargets: [null, null, null, null] };
    expect(Object.keys(tf.tidy(() => lmmVqaObjective(model, unlabelled).parts))).toEqual(['ce']);
    expect(() => tf.tidy(() => lmmVqaObjective(model, unlabelled, { weights: { ce: 0 } }).total)).toThrow(/batch: no loss part has rows/);
    expect(() => tf.tidy(() => lmmVqaObjective(model, { ...batch, scoreTargets: [1] }).total)).toThrow(/batch.scoreTargets: expected 4 rows, got 1/);
    expect(() => tf.tidy(() => lmmVqaObjective(model, { ...batch, labels: batch.labels.map((r) => r.slice(1)) }).total)).toThrow(/batch.labels\[0\]: expected \d+ ids as in inputIds/);
    expect(() => tf.tidy(() => lmmVqaObjective(model, batch, { weights: { level: Number.NaN } }).total)).toThrow(/weights.level: expected a finite number ≥ 0, got NaN/);
    await model.dispose();
  });
});
