import type { ManifestEntry, SampleBatch } from '@vqlm/datasets';
import type { TokenizerFiles } from '@vqlm/decoder-lora';
import { levelFromScore } from '@vqlm/heads';
import { IGNORE_LABEL, LMM_VQA_PROMPT, lmmVqaAnswer, lmmVqaObjective, saveBundle, type LmmVqa } from '@vqlm/models';
import { tf } from '@vqlm/runtime';
import { scoreTarget } from './batch.js';
import type { TrainConfig } from './config.js';
import { prepareLmmData, type LmmPreparedItem } from './data.js';
import { TrainerError } from './errors.js';
import { scoreMetrics, type EvalResult, type ScoredItem } from './evaluate.js';
import { createLmmRunModel, lmmTrainedVariables } from './model.js';
import type { RunModel } from './run-model.js';

/** The answer an LMM-VQA run trains towards for an entry (`lmmVqaAnswer` of its target), or null without a target. */
export function lmmTargetText(entry: ManifestEntry): string | null {
  const target = scoreTarget(entry);
  return target === null ? null : lmmVqaAnswer(target, levelFromScore(target));
}

/** Every text an LMM-VQA run's decoder reads or writes, for building its tokenizer: the question and the answers. */
export function lmmTrainingTexts(entries: readonly ManifestEntry[]): string[] {
  return [LMM_VQA_PROMPT, ...entries.flatMap((e) => lmmTargetText(e) ?? [])];
}

/** Rows of `items` stacked: key frames `[B, M, S, S, 3]`, clips `[B, T, s, s, 3]`, and the user tower's features `[B, M, Tq, F]` when prepared (a tensor: dispose it). */
function stackLmm(model: LmmVqa, rows: readonly LmmPreparedItem[]): { frames: { data: Uint8Array; dims: number[] }; clip: { data: Uint8Array; dims: number[] }; spatialFeatures?: tf.Tensor } {
  const { m, spatialVit, temporal } = model.config;
  const s = spatialVit.imageSize;
  const frameSize = m * s * s * 3;
  const clipSize = temporal.numFrames * temporal.imageSize * temporal.imageSize * 3;
  const frames = new Uint8Array(rows.length * frameSize);
  const clip = new Uint8Array(rows.length * clipSize);
  rows.forEach((item, i) => {
    frames.set(item.frames, i * frameSize);
    clip.set(item.clip, i * clipSize);
  });
  const features = rows.every((row) => row.spatialFeatures !== undefined) && rows.length > 0 ? rows.map((row) => row.spatialFeatures!) : null;
  const tq = model.spatialTokens;
  return {
    frames: { data: frames, dims: [rows.length, m, s, s, 3] },
    clip: { data: clip, dims: [rows.length, temporal.numFrames, temporal.imageSize, temporal.imageSize, 3] },
    ...(features ? { spatialFeatures: tf.tensor4d(concatFloat(features), [rows.length, m, tq, spatialVit.hiddenSize]) } : {}),
  };
}

function concatFloat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decoder inputs and labels of an answer (`[bos, t1 … tn, eos]` → `[t1 … tn, eos, ignore]`); all ignored without one. */
function encodeAnswer(model: LmmVqa, text: string | null): { input: number[]; labels: number[] } {
  const bos = model.tokenizer.bosTokenId;
  if (bos === null) throw new TrainerError('E_CONFIG', 'model.decoder.tokenizer: no bos token');
  if (text === null) return { input: [bos], labels: [IGNORE_LABEL] };
  const ids = model.tokenizer.encode(text);
  const eos = model.tokenizer.eosTokenId;
  const body = eos === null ? ids : [...ids, eos];
  return { input: [bos, ...body], labels: [...body, IGNORE_LABEL] };
}

/** Level-head scores (1–5) of prepared items, in batches. */
async function rateItems(model: LmmVqa, items: readonly LmmPreparedItem[], batchSize = 8): Promise<number[]> {
  const out: number[] = [];
  const bos = model.tokenizer.bosTokenId ?? 0;
  for (let start = 0; start < items.length; start += batchSize) {
    const rows = items.slice(start, start + batchSize);
    const { frames, clip, spatialFeatures } = stackLmm(model, rows);
    try {
      const result = model.forward({ frames, clip, spatialFeatures, targetTokenIds: rows.map(() => [bos]) });
      try {
        out.push(...(await result.levelScores.data()));
      } finally {
        tf.dispose([result.levelLogits, result.levelScores, result.logits]);
      }
    } finally {
      spatialFeatures?.dispose();
    }
  }
  return out;
}

/**
 * LMM-VQA's {@link RunModel}: key frames and clips decoded once, batches of single videos trained
 * on the answer, the level and the level score (`lmmVqaObjective`), evaluation on the level score,
 * and an LMM-VQA bundle (no calibration: the score is on 1–5 already; no ONNX export).
 */
export async function createLmmRun(config: TrainConfig, tokenizer: TokenizerFiles): Promise<RunModel<LmmPreparedItem>> {
  const model = await createLmmRunModel(config, tokenizer);
  const { ce, mse, level } = config.train.lossWeights;
  return {
    architecture: 'lmm-vqa',
    vars: lmmTrainedVariables(model, config),
    prepare: (entries, root, options) => prepareLmmData(entries, root, model, options),
    step(items: ReadonlyMap<string, LmmPreparedItem>, sample: SampleBatch) {
      const rows = sample.items.map((item) => {
        if (item.kind !== 'single') throw new TrainerError('E_CONFIG', 'train.pairRatio: LMM-VQA trains on single videos');
        const prepared = items.get(item.entry.id);
        if (!prepared) throw new TrainerError('E_DATA', `entry ${item.entry.id}: not prepared`);
        return prepared;
      });
      const encoded = rows.map((row) => encodeAnswer(model, lmmTargetText(row.entry)));
      const width = Math.max(...encoded.map((e) => e.input.length));
      const padId = model.tokenizer.padTokenId ?? 0;
      const { frames, clip, spatialFeatures } = stackLmm(model, rows);
      const batch = {
        frames,
        clip,
        spatialFeatures,
        inputIds: encoded.map((e) => [...e.input, ...new Array<number>(width - e.input.length).fill(padId)]),
        labels: encoded.map((e) => [...e.labels, ...new Array<number>(width - e.labels.length).fill(IGNORE_LABEL)]),
        scoreTargets: rows.map((row) => scoreTarget(row.entry)),
      };
      return { loss: () => lmmVqaObjective(model, batch, { weights: { ce, mse, level: level ?? 1 } }), tensors: spatialFeatures ? [spatialFeatures] : [] };
    },
    async evaluate(items, options): Promise<EvalResult> {
      const scores = await rateItems(model, items);
      const scored: ScoredItem[] = items.map((item, i) => ({ id: item.entry.id, score: scores[i], target: scoreTarget(item.entry) }));
      const metrics = scoreMetrics(
        items.map((i) => i.entry),
        scored,
        options.flipDiffs,
      );
      const descriptions: { id: string; text: string; reference: string | null }[] = [];
      const every = Math.max(1, Math.floor(items.length / Math.max(1, options.descriptions)));
      for (let i = 0; i < items.length && descriptions.length < options.descriptions; i += every) {
        const { frames, clip, spatialFeatures } = stackLmm(model, [items[i]]);
        try {
          descriptions.push({ id: items[i].entry.id, text: await model.answer({ frames, clip, spatialFeatures }), reference: lmmTargetText(items[i].entry) });
        } finally {
          spatialFeatures?.dispose();
        }
      }
      return { items: scored, ...metrics, descriptions };
    },
    calibrate: () => Promise.resolve(null),
    // A user's ONNX tower is referenced by path; such a bundle gets no ONNX exports (it scores in tfjs beside the tower).
    save: (dir) => saveBundle(model, dir, { onnx: config.output.onnx, ...(config.model.contextTowerOnnx ? { spatialTowerOnnx: config.model.contextTowerOnnx } : {}) }),
    dispose: () => model.dispose(),
  };
}
