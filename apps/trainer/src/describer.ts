import { Prng, describeRecipe, hashString, mixSeed, type ManifestEntry } from '@vqlm/datasets';
import { levelFromScore } from '@vqlm/heads';
import { IGNORE_LABEL, cpLlmDescribeObjective, describeLeadText, type CpLlm } from '@vqlm/models';
import { tf } from '@vqlm/runtime';
import { pad, scoreTarget, stackViews } from './batch.js';
import type { TrainConfig } from './config.js';
import type { PreparedItem } from './data.js';
import { TrainerError } from './errors.js';
import type { RunStep } from './run-model.js';

/** Visual tokens are kept in memory up to this many bytes; beyond it each batch recomputes its own. */
export const DESCRIBER_VISUAL_CACHE_BYTES = 512 * 1024 * 1024;

/** The text the describer phase teaches after the lead, or null when the entry has none. */
export function describerTarget(entry: ManifestEntry, target: TrainConfig['describer']['target']): string | null {
  if (target !== 'description') return entry.variant?.recipe ? describeRecipe(entry.variant.recipe, { parameters: target === 'recipe' }) : null;
  return entry.description ?? null;
}

/** One training example of the describer phase: decoder inputs and labels, the lead's positions ignored. */
export interface DescriberExample {
  readonly item: PreparedItem;
  /** `[bos, lead…, text…]` */
  readonly input: number[];
  /** `[ignore × lead, text…, eos]` */
  readonly labels: number[];
  /** The filled-in lead (null: none). */
  readonly lead: string | null;
}

/**
 * The describer example of an item, or null when it has no target text (or the lead needs a
 * level and the entry has no score). The lead's `{level}` is the level of the entry's target
 * score, by the scorer's bands (`@vqlm/heads` `levelFromScore`), so that at scoring time the
 * level of the model's score stands in for it.
 */
export function describerExample(model: CpLlm, item: PreparedItem, describer: TrainConfig['describer']): DescriberExample | null {
  const text = describerTarget(item.entry, describer.target);
  if (text === null) return null;
  const target = scoreTarget(item.entry);
  const needsLevel = describer.lead?.includes('{level}') === true;
  if (needsLevel && target === null) return null;
  const lead = describeLeadText({ describeLead: describer.lead }, needsLevel && target !== null ? { level: levelFromScore(target) } : {});
  const tokenizer = model.tokenizer;
  const bos = tokenizer.bosTokenId;
  if (bos === null) throw new TrainerError('E_CONFIG', 'model.decoder.tokenizer: no bos token');
  const leadIds = lead === null ? [] : tokenizer.encode(lead);
  const body = tokenizer.encode(text).slice(0, model.config.maxDescriptionTokens);
  const eos = tokenizer.eosTokenId;
  const written = eos === null ? body : [...body, eos];
  return {
    item,
    input: [bos, ...leadIds, ...written.slice(0, -1)],
    labels: [...new Array<number>(leadIds.length).fill(IGNORE_LABEL), ...written],
    lead,
  };
}

/** The describer phase of a run, ready to step. */
export interface DescriberPhase {
  /** The variables it trains: the decoder's that `train.freeze` leaves trainable. */
  readonly vars: tf.Variable[];
  /** Videos it trains on. */
  readonly examples: number;
  /** Whether the videos' visual tokens are held in memory (else each batch recomputes its own). */
  readonly cached: boolean;
  /** The loss of describer step `index` (0-based). The batch depends on the seed and `index` alone, so a resumed phase draws the same batches. */
  step(index: number): RunStep;
  dispose(): void;
}

/**
 * Sets up the describer phase: an example per training item that has a target text, and the
 * visual tokens of each (the encoders are frozen in this phase, so they are a constant of the
 * video; `CpLlm.visualTokens`). Batches walk through seeded permutations of the examples, one per round.
 * @throws TrainerError `E_SPLIT` when no training item has a target for the phase.
 */
export async function createDescriberPhase(model: CpLlm, items: readonly PreparedItem[], config: TrainConfig, vars: tf.Variable[]): Promise<DescriberPhase> {
  const describer = config.describer;
  const examples = items.map((item) => describerExample(model, item, describer)).filter((e): e is DescriberExample => e !== null);
  if (examples.length === 0) {
    throw new TrainerError('E_SPLIT', `describer: no training entry has a ${describer.target === 'description' ? 'description' : 'variant recipe'}${describer.lead?.includes('{level}') ? ' and a score (for the lead\'s {level})' : ''}`);
  }
  const visualOf = (rows: readonly PreparedItem[]): tf.Tensor3D => {
    const views = stackViews(model, rows);
    try {
      return model.visualTokens({ contextFeatures: views.features, pixel: views.pixel });
    } finally {
      views.features.dispose();
    }
  };
  // `visualTokens`' shape: M context tokens and M pixel tokens per frame, D wide.
  const positions = model.config.m * (model.contextEncoder.numTokens + model.pixelEncoder.numTokens);
  const width = model.config.decoder.hiddenSize;
  const size = positions * width;
  let cached: Float32Array[] | null = null;
  if (examples.length * size * 4 <= DESCRIBER_VISUAL_CACHE_BYTES) {
    cached = [];
    for (let i = 0; i < examples.length; i += 32) {
      const chunk = visualOf(examples.slice(i, i + 32).map((e) => e.item));
      const data = (await chunk.data()) as Float32Array;
      chunk.dispose();
      for (let j = 0; j * size < data.length; j++) cached.push(data.slice(j * size, (j + 1) * size));
    }
  }
  const seed = mixSeed(config.seed, hashString('describer'));
  const rounds = new Map<number, Int32Array>();
  const order = (round: number): Int32Array => {
    let permutation = rounds.get(round);
    if (!permutation) {
      permutation = new Prng(mixSeed(seed, round)).permutation(examples.length);
      rounds.clear(); // a batch spans at most two rounds; keep the newest
      rounds.set(round, permutation);
    }
    return permutation;
  };
  const padId = model.tokenizer.padTokenId ?? 0;
  return {
    vars,
    examples: examples.length,
    cached: cached !== null,
    step(index) {
      const n = examples.length;
      const rows = Array.from({ length: describer.batchSize }, (_, i) => {
        const at = index * describer.batchSize + i;
        return order(Math.floor(at / n))[at % n];
      });
      const cache = cached;
      let visual: tf.Tensor3D;
      if (cache) {
        const data = new Float32Array(rows.length * size);
        rows.forEach((row, i) => data.set(cache[row], i * size));
        visual = tf.tensor3d(data, [rows.length, positions, width]);
      } else {
        visual = visualOf(rows.map((row) => examples[row].item));
      }
      const batch = { visual, inputIds: pad(rows.map((row) => examples[row].input), padId), labels: pad(rows.map((row) => examples[row].labels), IGNORE_LABEL) };
      return {
        loss: () => cpLlmDescribeObjective(model, batch),
        tensors: [visual],
      };
    },
    dispose() {
      cached = null;
    },
  };
}
