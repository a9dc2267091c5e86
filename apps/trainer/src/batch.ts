import { hashString, mixSeed, mosLevel, type ManifestEntry, type SampleBatch, type SampleItem } from '@vqlm/datasets';
import { IGNORE_LABEL, type CpLlm, type CpLlmTrainBatch } from '@vqlm/models';
import { tf } from '@vqlm/runtime';
import type { PreparedItem } from './data.js';
import { TrainerError } from './errors.js';

/** Target score of an entry: human MOS, else pseudo-MOS, else none. */
export function scoreTarget(entry: ManifestEntry): number | null {
  return entry.mos?.value ?? entry.pseudoMos?.value ?? null;
}

/**
 * Quality labels (higher is better) of a pair for the ranking hinge: minus the ladder level when
 * both are variants of one ladder (the order the paper's pairs are built on: a higher CRF never
 * looks better, and the label gap grows with the level gap), else their scores.
 */
export function rankLabels(a: ManifestEntry, b: ManifestEntry): [number, number] {
  const la = a.variant?.level;
  const lb = b.variant?.level;
  if (la !== undefined && lb !== undefined && la !== lb) return [-la, -lb];
  return [scoreTarget(a) ?? 0, scoreTarget(b) ?? 0];
}

/** The description a single video is trained to produce: the manifest's, or a short one from its score. */
export function singleText(entry: ManifestEntry): string {
  if (entry.description) return entry.description;
  const target = scoreTarget(entry);
  return target === null ? 'its quality is not known.' : `its quality is ${mosLevel(target)}.`;
}

/** The comparison a pair is trained to produce (`firstBetter`: whether the first shown video is the better one). */
export function compareText(first: ManifestEntry, second: ManifestEntry, firstBetter: boolean): string {
  const level = (e: ManifestEntry): string => {
    const t = scoreTarget(e);
    return t === null ? 'unknown' : mosLevel(t);
  };
  return `the ${firstBetter ? 'first' : 'second'} video has better quality: the first is ${level(first)}, the second is ${level(second)}.`;
}

/** Whether a pair is shown worse-first: a fixed coin per (seed, epoch, batch, item), so resumed runs see the same order. */
export function swapPair(seed: number, batch: SampleBatch, index: number): boolean {
  return (mixSeed(mixSeed(mixSeed(seed, batch.epoch), batch.index), index + hashString('pair-order')) & 1) === 1;
}

/** Every text the decoder is trained on, for building a tokenizer. */
export function trainingTexts(entries: readonly ManifestEntry[]): string[] {
  const texts = entries.map(singleText);
  for (const first of ['bad', 'poor', 'fair', 'good', 'excellent']) {
    texts.push(`the first video has better quality: the first is ${first}, the second is ${first}.`, `the second video has better quality.`);
  }
  return texts;
}

/** Decoder inputs and labels of one text: `[bos, t1 … tn, eos]` → `[t1 … tn, eos, ignore]`, cut to `maxTokens` description tokens. */
export function encodeTarget(model: CpLlm, text: string): { input: number[]; labels: number[] } {
  const tokenizer = model.tokenizer;
  const bos = tokenizer.bosTokenId;
  if (bos === null) throw new TrainerError('E_CONFIG', 'model.decoder.tokenizer: no bos token');
  const ids = tokenizer.encode(text).slice(0, model.config.maxDescriptionTokens);
  const eos = tokenizer.eosTokenId;
  const body = eos === null ? ids : [...ids, eos];
  return { input: [bos, ...body], labels: [...body, IGNORE_LABEL] };
}

/** Rows right-padded with `value` to the longest. */
export function pad(rows: number[][], value: number): number[][] {
  const width = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(value)]);
}

/** A batch's tensors, to dispose after the step. */
export interface BuiltBatch {
  readonly batch: CpLlmTrainBatch;
  readonly tensors: tf.Tensor[];
}

/** The cached views of `rows` as one batch: features `[B, M, Th, F]` (a tensor to dispose) and pixel bytes `[B, M, K, P, P, 3]`. */
export function stackViews(model: CpLlm, rows: readonly PreparedItem[]): { features: tf.Tensor; pixel: { data: Uint8Array; dims: number[] } } {
  const { m, k, patchSize: p } = model.config;
  const th = model.contextEncoder.numTokens;
  const f = model.contextEncoder.featureDim;
  const featureSize = m * th * f;
  const features = new Float32Array(rows.length * featureSize);
  const pixelSize = m * k * p * p * 3;
  const pixel = new Uint8Array(rows.length * pixelSize);
  rows.forEach((item, i) => {
    features.set(item.features, i * featureSize);
    pixel.set(item.pixel, i * pixelSize);
  });
  return { features: tf.tensor4d(features, [rows.length, m, th, f]), pixel: { data: pixel, dims: [rows.length, m, k, p, p, 3] } };
}

/**
 * Turns a sampler batch into CP-LLM's training batch: a single video is the first input with its
 * hidden copy as the second, trained on its score and description; a pair shows both videos (in a
 * seeded random order) and is trained on their order and a comparison sentence.
 */
export function buildBatch(model: CpLlm, items: ReadonlyMap<string, PreparedItem>, sample: SampleBatch, seed: number): BuiltBatch {
  const get = (entry: ManifestEntry): PreparedItem => {
    const item = items.get(entry.id);
    if (!item) throw new TrainerError('E_DATA', `entry ${entry.id}: not prepared`);
    return item;
  };
  const firsts: PreparedItem[] = [];
  const seconds: PreparedItem[] = [];
  const visible: boolean[] = [];
  const targets: (number | null)[] = [];
  const ranks: ([number, number] | null)[] = [];
  const inputs: number[][] = [];
  const labels: number[][] = [];
  sample.items.forEach((item: SampleItem, index) => {
    let text: string;
    if (item.kind === 'single') {
      const one = get(item.entry);
      firsts.push(one);
      seconds.push(one);
      visible.push(false);
      targets.push(scoreTarget(item.entry));
      ranks.push(null);
      text = singleText(item.entry);
    } else {
      const swap = swapPair(seed, sample, index);
      const [a, b] = swap ? [item.worse, item.better] : [item.better, item.worse];
      firsts.push(get(a));
      seconds.push(get(b));
      visible.push(true);
      targets.push(null);
      ranks.push(rankLabels(a, b));
      text = compareText(a, b, !swap);
    }
    const encoded = encodeTarget(model, text);
    inputs.push(encoded.input);
    labels.push(encoded.labels);
  });
  const first = stackViews(model, firsts);
  const second = stackViews(model, seconds);
  const padId = model.tokenizer.padTokenId ?? 0;
  return {
    batch: {
      first: { contextFeatures: first.features, pixel: first.pixel },
      second: { contextFeatures: second.features, pixel: second.pixel },
      secondVisible: visible,
      inputIds: pad(inputs, padId),
      labels: pad(labels, IGNORE_LABEL),
      scoreTargets: targets,
      rankLabels: ranks,
    },
    tensors: [first.features, second.features],
  };
}
