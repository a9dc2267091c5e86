import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, tf } from '@vqlm/runtime';
import type { GemmaDecoder } from './gemma-decoder.js';
import { generate } from './generate.js';
import { buildWordPieceTokenizer, TextTokenizer } from './tokenizer.js';
import { maxAbsDiff, readWeights, tinyConfig, tinyDecoder, useCpuBackend } from './__fixtures__/tiny.js';

const sentences = [
  'sharp and clean with natural colours',
  'heavy blocking in dark areas',
  'blurry with visible banding',
  'slight noise but good detail',
];

/** Teacher-forced batch: inputs `[bos, w...]`, targets `[w..., eos]`, padded; mask marks real targets. */
function batch(tokenizer: TextTokenizer, texts: string[]) {
  const encoded = texts.map((t) => tokenizer.encode(t));
  const T = Math.max(...encoded.map((e) => e.length)) + 1;
  const pad = tokenizer.padTokenId!;
  const inputs = encoded.map((e) => [tokenizer.bosTokenId!, ...e, ...new Array<number>(T - 1 - e.length).fill(pad)]);
  const targets = encoded.map((e) => [...e, tokenizer.eosTokenId!, ...new Array<number>(T - 1 - e.length).fill(pad)]);
  const mask = encoded.map((e) => Array.from({ length: T }, (_, t) => (t <= e.length ? 1 : 0)));
  return { inputs, targets, mask, encoded };
}

/** Mean token cross-entropy over the masked positions. */
function tokenLoss(decoder: GemmaDecoder, prefix: tf.Tensor3D, data: ReturnType<typeof batch>, training: boolean): tf.Scalar {
  return tf.tidy(() => {
    const logits = decoder.forward({ prefixEmbeddings: prefix, tokenIds: data.inputs, training });
    const logProbs = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.tensor2d(data.targets, undefined, 'int32'), decoder.config.vocabSize);
    const mask = tf.tensor2d(data.mask);
    const picked = tf.sum(tf.mul(logProbs, onehot), -1);
    return tf.div<tf.Scalar>(tf.neg(tf.sum(tf.mul(picked, mask))), tf.sum(mask));
  });
}

function train(decoder: GemmaDecoder, prefix: tf.Tensor3D, data: ReturnType<typeof batch>, steps: number, lr: number): number {
  const optimizer = tf.train.adam(lr);
  const vars = decoder.trainableVariables();
  let last = Infinity;
  for (let step = 0; step < steps; step += 1) {
    const cost = optimizer.minimize(() => tokenLoss(decoder, prefix, data, true), true, vars)!;
    last = cost.dataSync()[0];
    if (process.env.DEBUG_OVERFIT) console.log(step, last);
    cost.dispose();
    if (last < 0.02) break;
  }
  optimizer.dispose();
  return last;
}

describe('LoRA fine-tuning', () => {
  beforeAll(useCpuBackend);

  it('overfits a handful of sentences through a rank-4 q/k/v/o LoRA alone on a frozen pre-trained base', () => {
    const tokenizer = new TextTokenizer(buildWordPieceTokenizer(sentences, { vocabSize: 64 }));
    // Embedding rows of norm ~√D, as in trained Gemma, so the tied output can reach confident logits.
    const decoder = tinyDecoder(tinyConfig({ vocabSize: 64 }), 7, 1);
    const rng = createRng(3);
    // Each sentence is keyed by its own "visual" prefix, as CP-LLM's pixel/context tokens key a description.
    const prefix = tf.tensor3d(Float32Array.from({ length: 4 * 3 * 32 }, () => rng.normal()), [4, 3, 32]);
    const data = batch(tokenizer, sentences);

    // Brief "pre-training" of the base (wide LoRA folded in with merge-and-unload), then freeze it.
    decoder.addLora({ r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 1);
    const general = batch(tokenizer, ['with natural detail', 'good colours and clean areas', 'noise in dark areas']);
    const generalPrefix = tf.zeros<tf.Rank.R3>([3, 3, 32]);
    train(decoder, generalPrefix, general, 15, 0.01);
    decoder.mergeAndUnloadLora();
    const frozen = readWeights(decoder);

    decoder.addLora({ r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] }, 2);
    const before = tokenLoss(decoder, prefix, data, false);
    const initial = before.dataSync()[0];
    before.dispose();
    const tensorsBefore = tf.memory().numTensors;
    const final = train(decoder, prefix, data, 200, 0.02);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const evalLoss = tokenLoss(decoder, prefix, data, false);
    const loss = evalLoss.dataSync()[0];
    evalLoss.dispose();
    expect(initial).toBeGreaterThan(2);
    expect(final).toBeLessThan(0.1);
    expect(loss).toBeLessThan(0.1);
    // The base did not move.
    for (const [name, values] of readWeights(decoder)) expect(maxAbsDiff(values, frozen.get(name)!)).toBe(0);
    // Greedy generation from each prefix reproduces its sentence.
    for (let i = 0; i < sentences.length; i += 1) {
      const one = tf.slice(prefix, [i, 0, 0], [1, 3, 32]);
      const out = generate(decoder, { prefixEmbeddings: one, startTokenIds: [[tokenizer.bosTokenId!]], maxNewTokens: 12, stopTokens: [tokenizer.eosTokenId!] });
      expect(tokenizer.decode(out.tokens[0])).toBe(sentences[i]);
      one.dispose();
    }
    tf.dispose([prefix, generalPrefix]);
    decoder.dispose();
  });
});
