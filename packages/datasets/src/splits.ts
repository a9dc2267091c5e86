import { DatasetError } from './errors.js';
import type { ManifestEntry } from './manifest.js';
import { Prng } from './prng.js';

/** Split names, in allocation order. */
export type SplitName = 'train' | 'val' | 'test';

/** Options of {@link splitBySource}. */
export interface SplitOptions {
  /** Seed of the source shuffle; the same seed and sources give the same split. */
  readonly seed: number;
  /** Share of sources per split; must sum to 1. Default `{ train: 0.8, val: 0.1, test: 0.1 }`. */
  readonly ratios?: Readonly<Record<SplitName, number>>;
}

/**
 * Assigns every entry a split **by source**: all variants and segments of one
 * `sourceId` land in the same split, so nothing of a test source is seen in
 * training. Sources are sorted, then shuffled with `seed`, so the result does
 * not depend on the order of `entries`. Each split with a non-zero ratio gets
 * at least one source when there are enough sources.
 *
 * @returns copies of `entries` with `split` set, in the input order.
 */
export function splitBySource(entries: readonly ManifestEntry[], options: SplitOptions): ManifestEntry[] {
  const ratios = options.ratios ?? { train: 0.8, val: 0.1, test: 0.1 };
  const names: SplitName[] = ['train', 'val', 'test'];
  for (const name of names) {
    const r = ratios[name];
    if (!Number.isFinite(r) || r < 0) {
      throw new DatasetError('E_ARGUMENT', `ratios.${name} must be a non-negative number, got ${String(r)}`);
    }
  }
  const total = ratios.train + ratios.val + ratios.test;
  if (Math.abs(total - 1) > 1e-9) {
    throw new DatasetError('E_ARGUMENT', `ratios must sum to 1, got ${total}`);
  }
  const sources = [...new Set(entries.map((e) => e.sourceId))].sort();
  const shuffled = new Prng(options.seed).shuffle(sources);
  const n = shuffled.length;
  const counts: Record<SplitName, number> = {
    val: Math.round(n * ratios.val),
    test: Math.round(n * ratios.test),
    train: 0,
  };
  const nonZero = names.filter((name) => ratios[name] > 0);
  if (n >= nonZero.length) {
    for (const name of ['val', 'test'] as const) if (ratios[name] > 0 && counts[name] === 0) counts[name] = 1;
  }
  counts.train = Math.max(0, n - counts.val - counts.test);
  if (ratios.train > 0 && counts.train === 0 && n >= nonZero.length) {
    const donor = counts.val >= counts.test ? 'val' : 'test';
    counts[donor] -= 1;
    counts.train = 1;
  }
  const splitOf = new Map<string, SplitName>();
  let at = 0;
  for (const name of ['test', 'val', 'train'] as const) {
    for (let i = 0; i < counts[name] && at < n; i++) splitOf.set(shuffled[at++], name);
  }
  return entries.map((e) => ({ ...e, split: splitOf.get(e.sourceId) ?? 'train' }));
}

/** Sources named for the validation and test splits (see {@link assignSplits}). */
export interface SplitAssignment {
  readonly test?: readonly string[];
  readonly val?: readonly string[];
}

/**
 * Assigns every entry a split **by source** from named lists: the sources in `test` and `val`
 * go there, every other source to train. Use it to keep a fixed set of held-out sources while
 * the training sources change.
 * @throws DatasetError `E_ARGUMENT` naming a listed source that no entry has, or one listed twice.
 */
export function assignSplits(entries: readonly ManifestEntry[], assignment: SplitAssignment): ManifestEntry[] {
  const known = new Set(entries.map((e) => e.sourceId));
  const splitOf = new Map<string, SplitName>();
  for (const name of ['test', 'val'] as const) {
    for (const source of assignment[name] ?? []) {
      if (!known.has(source)) {
        throw new DatasetError('E_ARGUMENT', `${name} sources: no entry has sourceId '${source}' (known: ${[...known].sort().join(', ')})`);
      }
      const before = splitOf.get(source);
      if (before) throw new DatasetError('E_ARGUMENT', `${name} sources: '${source}' is already in ${before}`);
      splitOf.set(source, name);
    }
  }
  return entries.map((e) => ({ ...e, split: splitOf.get(e.sourceId) ?? 'train' }));
}

/**
 * Throws `E_SPLIT_LEAK` if some source has entries in two splits, naming the
 * source and the splits.
 */
export function assertNoSourceLeak(entries: readonly ManifestEntry[]): void {
  const seen = new Map<string, { split: string; id: string }>();
  for (const e of entries) {
    const split = e.split ?? '(none)';
    const first = seen.get(e.sourceId);
    if (!first) seen.set(e.sourceId, { split, id: e.id });
    else if (first.split !== split) {
      throw new DatasetError(
        'E_SPLIT_LEAK',
        `source '${e.sourceId}' is in two splits: '${first.split}' (${first.id}) and '${split}' (${e.id})`,
      );
    }
  }
}
