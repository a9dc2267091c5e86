import { DatasetError } from './errors.js';
import { ladderKey, type ManifestEntry } from './manifest.js';
import { Prng, hashString, mixSeed } from './prng.js';

/** One video with a target score (human MOS, else pseudo-MOS), for the MSE loss. */
export interface SingleItem {
  readonly kind: 'single';
  readonly entry: ManifestEntry;
}

/**
 * Two variants of one source for the ranking loss. `better` has the lower
 * ladder level: by the paper's assumption a higher CRF never looks better.
 */
export interface PairItem {
  readonly kind: 'pair';
  readonly better: ManifestEntry;
  readonly worse: ManifestEntry;
  /** `worse.level − better.level` (≥ 1). */
  readonly levelDifference: number;
}

export type SampleItem = SingleItem | PairItem;

/** One batch of a {@link PairSampler}. */
export interface SampleBatch {
  readonly epoch: number;
  /** Index of the batch within its epoch. */
  readonly index: number;
  readonly items: SampleItem[];
}

/** Options of {@link PairSampler}. */
export interface PairSamplerOptions {
  /** Items per batch (a pair counts as one item). */
  readonly batchSize: number;
  /** Share of items that are pairs, in [0, 1]; 0 = "single", 1 = "pair", the paper's best was a mix. */
  readonly pairRatio: number;
  /** Seed; with the same entries and options every epoch is the same. */
  readonly seed: number;
  /** Allowed spread of level differences within a pair, inclusive. Default `{ min: 1, max: Infinity }`. */
  readonly levelDifference?: { readonly min: number; readonly max: number };
  /** Items per epoch; default the number of entries. */
  readonly epochSize?: number;
  /** Drop a last batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
}

/** Serialisable position of a sampler (JSON-safe). */
export interface PairSamplerState {
  readonly version: 1;
  readonly seed: number;
  readonly epoch: number;
  /** Index of the next batch within `epoch`. */
  readonly batch: number;
  /** Hash of the entries and options; a state only resumes the sampler it came from. */
  readonly fingerprint: number;
}

/**
 * Batches mixing single videos and pairs of variants of one source.
 *
 * - Singles are entries with a target score: `mos` (originals) or a
 *   `pseudoMos.value`.
 * - Pairs are two entries of one source and one recipe kind (the source at
 *   level 0 joins every ladder of its source) whose level difference lies in
 *   `levelDifference`; `better` is the lower level.
 * - Within every batch, pairs make up `pairRatio` of the items (spread evenly
 *   across the epoch).
 * - Each epoch's plan is a pure function of `(seed, epoch)`, so
 *   `state()` / `PairSampler.resume()` continue at the exact batch.
 */
export class PairSampler {
  private readonly entries: readonly ManifestEntry[];
  private readonly options: Required<Omit<PairSamplerOptions, 'epochSize'>> & { epochSize: number };
  private readonly singles: ManifestEntry[];
  /** Ladders sorted by level. */
  private readonly ladders: ManifestEntry[][] = [];
  /** Levels of each ladder's members, in the same order. */
  private readonly ladderLevels: Int32Array[] = [];
  /** Anchors (entries with at least one partner) as ladder index and position. */
  private readonly anchorLadder: Int32Array;
  private readonly anchorPos: Int32Array;
  private readonly fingerprint: number;
  private readonly scratch: number[] = [];
  private epoch = 0;
  private batch = 0;
  /** Per item of the epoch: single index (≥ 0) or −1 − anchor index, and the partner pick. */
  private plan: { epoch: number; item: Int32Array; pick: Int32Array } | undefined;

  constructor(entries: readonly ManifestEntry[], options: PairSamplerOptions) {
    const { batchSize, pairRatio, seed } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DatasetError('E_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!(pairRatio >= 0 && pairRatio <= 1)) {
      throw new DatasetError('E_ARGUMENT', `pairRatio must be in [0, 1], got ${pairRatio}`);
    }
    if (!Number.isInteger(seed)) throw new DatasetError('E_ARGUMENT', `seed must be an integer, got ${seed}`);
    const levelDifference = options.levelDifference ?? { min: 1, max: Number.POSITIVE_INFINITY };
    if (!(levelDifference.min >= 1) || !(levelDifference.max >= levelDifference.min)) {
      throw new DatasetError(
        'E_ARGUMENT',
        `levelDifference must satisfy 1 ≤ min ≤ max, got {min: ${levelDifference.min}, max: ${levelDifference.max}}`,
      );
    }
    const epochSize = options.epochSize ?? entries.length;
    if (!Number.isInteger(epochSize) || epochSize < 1) {
      throw new DatasetError('E_ARGUMENT', `epochSize must be a positive integer, got ${epochSize} (entries: ${entries.length})`);
    }
    this.entries = entries;
    this.options = { batchSize, pairRatio, seed, levelDifference, epochSize, dropLast: options.dropLast ?? false };
    this.singles = entries.filter((e) => e.mos !== undefined || e.pseudoMos?.value !== undefined);

    const byKey = new Map<string, ManifestEntry[]>();
    const originals = new Map<string, ManifestEntry>();
    for (const e of entries) if (e.variant?.level === 0) originals.set(ladderKey(e), e);
    for (const e of entries) {
      if (!e.variant || e.variant.level === 0) continue;
      const key = `${ladderKey(e)}\u0000${e.variant.recipe.kind}`;
      let ladder = byKey.get(key);
      if (!ladder) {
        const original = originals.get(ladderKey(e));
        ladder = original ? [original] : [];
        byKey.set(key, ladder);
      }
      ladder.push(e);
    }
    const ladderOf: number[] = [];
    const posOf: number[] = [];
    for (const ladder of byKey.values()) {
      ladder.sort((x, y) => (x.variant?.level ?? 0) - (y.variant?.level ?? 0));
      const li = this.ladders.push(ladder) - 1;
      this.ladderLevels.push(Int32Array.from(ladder, (e) => e.variant?.level ?? 0));
      for (let p = 0; p < ladder.length; p++) {
        if (this.partnersOf(li, p, levelDifference) > 0) {
          ladderOf.push(li);
          posOf.push(p);
        }
      }
    }
    this.anchorLadder = Int32Array.from(ladderOf);
    this.anchorPos = Int32Array.from(posOf);
    const anchors = ladderOf;
    if (pairRatio > 0 && anchors.length === 0) {
      throw new DatasetError(
        'E_ARGUMENT',
        `pairRatio is ${pairRatio} but no two variants of one source differ by ${levelDifference.min}..${levelDifference.max} levels`,
      );
    }
    if (pairRatio < 1 && this.singles.length === 0) {
      throw new DatasetError('E_ARGUMENT', `pairRatio is ${pairRatio} but no entry has a MOS or pseudo-MOS value for singles`);
    }
    this.fingerprint = mixSeed(
      hashString(entries.map((e) => e.id).join('\n')),
      batchSize,
      Math.round(pairRatio * 1e6),
      levelDifference.min,
      Number.isFinite(levelDifference.max) ? levelDifference.max : 0xffffffff,
      epochSize,
      this.options.dropLast ? 1 : 0,
    );
  }

  /** A sampler continuing at `state` (from {@link PairSampler.state}) over the same entries and options. */
  static resume(entries: readonly ManifestEntry[], options: PairSamplerOptions, state: PairSamplerState): PairSampler {
    const sampler = new PairSampler(entries, options);
    sampler.setState(state);
    return sampler;
  }

  /** Number of batches in one epoch. */
  get batchesPerEpoch(): number {
    const { epochSize, batchSize, dropLast } = this.options;
    return dropLast ? Math.floor(epochSize / batchSize) : Math.ceil(epochSize / batchSize);
  }

  /** The current position, to save with a training checkpoint. */
  state(): PairSamplerState {
    return { version: 1, seed: this.options.seed, epoch: this.epoch, batch: this.batch, fingerprint: this.fingerprint };
  }

  /** Moves to `state`; throws `E_SAMPLER_STATE` if it came from other entries or options. */
  setState(state: PairSamplerState): void {
    if (state.version !== 1 || state.seed !== this.options.seed || state.fingerprint !== this.fingerprint) {
      throw new DatasetError(
        'E_SAMPLER_STATE',
        `state was saved by a sampler with other entries or options (fingerprint ${state.fingerprint}, seed ${state.seed}; ` +
          `this sampler: ${this.fingerprint}, seed ${this.options.seed})`,
      );
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.batch) || state.batch < 0) {
      throw new DatasetError('E_SAMPLER_STATE', `state epoch and batch must be non-negative integers, got ${state.epoch}/${state.batch}`);
    }
    this.epoch = state.epoch;
    this.batch = state.batch;
  }

  /** The next batch; after the last batch of an epoch the next epoch starts. */
  next(): SampleBatch {
    if (this.batch >= this.batchesPerEpoch) {
      this.epoch += 1;
      this.batch = 0;
    }
    const batch: SampleBatch = { epoch: this.epoch, index: this.batch, items: this.batchItems(this.epoch, this.batch) };
    this.batch += 1;
    return batch;
  }

  /** The remaining batches of the current epoch. */
  *restOfEpoch(): Generator<SampleBatch> {
    if (this.batch >= this.batchesPerEpoch) return;
    while (this.batch < this.batchesPerEpoch) yield this.next();
  }

  /** Fills `scratch` with the positions of the partners of `(ladder, pos)`; returns their number. */
  private partnersOf(ladder: number, pos: number, spread = this.options.levelDifference): number {
    const levels = this.ladderLevels[ladder];
    const level = levels[pos];
    this.scratch.length = 0;
    for (let q = 0; q < levels.length; q++) {
      const d = Math.abs((levels[q]) - level);
      if (d >= spread.min && d <= spread.max) this.scratch.push(q);
    }
    return this.scratch.length;
  }

  private planFor(epoch: number): { item: Int32Array; pick: Int32Array } {
    if (this.plan?.epoch === epoch) return this.plan;
    const { epochSize, pairRatio } = this.options;
    const rng = new Prng(mixSeed(this.options.seed, epoch));
    const item = new Int32Array(epochSize);
    const pick = new Int32Array(epochSize);
    let singles: Int32Array | undefined;
    let singleAt = 0;
    let anchors: Int32Array | undefined;
    let anchorAt = 0;
    for (let i = 0; i < epochSize; i++) {
      const isPair = Math.floor((i + 1) * pairRatio) > Math.floor(i * pairRatio);
      if (isPair) {
        if (!anchors || anchorAt === anchors.length) {
          anchors = rng.permutation(this.anchorLadder.length);
          anchorAt = 0;
        }
        const a = anchors[anchorAt++];
        item[i] = -1 - a;
        pick[i] = rng.int(this.partnersOf(this.anchorLadder[a], this.anchorPos[a]));
      } else {
        if (!singles || singleAt === singles.length) {
          singles = rng.permutation(this.singles.length);
          singleAt = 0;
        }
        item[i] = singles[singleAt++];
      }
    }
    this.plan = { epoch, item, pick };
    return this.plan;
  }

  private batchItems(epoch: number, index: number): SampleItem[] {
    const plan = this.planFor(epoch);
    const { batchSize } = this.options;
    const items: SampleItem[] = [];
    const end = Math.min(plan.item.length, (index + 1) * batchSize);
    for (let i = index * batchSize; i < end; i++) {
      const code = plan.item[i];
      if (code >= 0) {
        items.push({ kind: 'single', entry: this.singles[code] });
        continue;
      }
      const a = -1 - code;
      const li = this.anchorLadder[a];
      const pos = this.anchorPos[a];
      this.partnersOf(li, pos);
      const members = this.ladders[li];
      const anchor = members[pos];
      const partner = members[this.scratch[plan.pick[i]]];
      const la = anchor.variant?.level ?? 0;
      const lb = partner.variant?.level ?? 0;
      items.push(
        la < lb
          ? { kind: 'pair', better: anchor, worse: partner, levelDifference: lb - la }
          : { kind: 'pair', better: partner, worse: anchor, levelDifference: la - lb },
      );
    }
    return items;
  }

  /** Number of entries the sampler draws from. */
  get size(): number {
    return this.entries.length;
  }
}
