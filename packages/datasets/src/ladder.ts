import { DatasetError } from './errors.js';
import { ladderKey, type ManifestEntry, type VariantRecipe } from './manifest.js';

/** An inclusive CRF range `from..to` in steps of `step`. */
export interface CrfRange {
  readonly from: number;
  readonly to: number;
  readonly step: number;
}

/** The paper's ladder: H.264 CRF 15, 17, …, 53 (20 levels). */
export const DEFAULT_CRF_RANGE: CrfRange = Object.freeze({ from: 15, to: 53, step: 2 });

/** The CRF values of `range`, ascending. Throws `E_ARGUMENT` for an empty or out-of-range one. */
export function crfLevels(range: CrfRange = DEFAULT_CRF_RANGE): number[] {
  const { from, to, step } = range;
  for (const [name, v] of [['from', from], ['to', to], ['step', step]] as const) {
    if (!Number.isInteger(v)) throw new DatasetError('E_ARGUMENT', `crf range ${name} must be an integer, got ${v}`);
  }
  if (from < 0 || to > 51 + 12 || from > to || step <= 0) {
    throw new DatasetError('E_ARGUMENT', `crf range must satisfy 0 ≤ from ≤ to ≤ 63 and step > 0, got ${from}:${to}:${step}`);
  }
  const out: number[] = [];
  for (let c = from; c <= to; c += step) out.push(c);
  return out;
}

/** Parses `from:to:step` (or `from:to`, step 2; or one value) as used by `--crf`. */
export function parseCrfRange(text: string): CrfRange {
  const parts = text.split(':').map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.length < 1 || parts.length > 3 || nums.some((n) => !Number.isInteger(n))) {
    throw new DatasetError('E_ARGUMENT', `crf must look like 15:53:2, got '${text}'`);
  }
  const [from, to = from, step = 2] = nums as [number, number?, number?];
  const range = { from, to, step };
  crfLevels(range);
  return range;
}

/**
 * The H.264 recipes of a CRF ladder. The index in the returned list plus one
 * is the variant's `level` (0 is the source itself).
 *
 * Assumption of the CP-LLM paper, encoded by every ranking pair built from
 * these levels: **a higher CRF never looks better** than a lower CRF of the
 * same source, so level i is at least as good as level j > i.
 */
export function h264Recipes(range: CrfRange = DEFAULT_CRF_RANGE): VariantRecipe[] {
  return crfLevels(range).map((crf) => ({ kind: 'h264', crf }));
}

/** The id of a variant: `<sourceId>~h264-crf23`, `<sourceId>~blur-s1.5`, `<sourceId>~original`. */
export function variantId(sourceId: string, recipe: VariantRecipe): string {
  switch (recipe.kind) {
    case 'original':
      return `${sourceId}~original`;
    case 'h264':
    case 'vp9':
      return `${sourceId}~${recipe.kind}-crf${recipe.crf ?? 'default'}`;
    case 'blur':
      return `${sourceId}~blur-s${recipe.sigma ?? 1}`;
    case 'noise':
      return `${sourceId}~noise-${recipe.strength ?? 1}`;
    case 'scale':
      return `${sourceId}~scale-${recipe.factor ?? 1}`;
  }
}

/**
 * Expands a source entry into its ladder: the source at level 0 (recipe
 * `original`) followed by one entry per recipe at level 1, 2, … with paths
 * from `pathFor`. MOS stays on the source only; variants get pseudo-MOS later
 * (see `assignPseudoMos`).
 */
export function expandLadder(
  source: ManifestEntry,
  recipes: readonly VariantRecipe[],
  pathFor: (recipe: VariantRecipe, level: number) => string,
): ManifestEntry[] {
  const original: ManifestEntry = { ...source, referenceId: source.id, variant: { level: 0, recipe: { kind: 'original' } } };
  const variants = recipes.map((recipe, i): ManifestEntry => {
    const entry: ManifestEntry = {
      id: variantId(source.id, recipe),
      path: pathFor(recipe, i + 1),
      sourceId: source.sourceId,
      referenceId: source.id,
      variant: { level: i + 1, recipe },
    };
    if (source.dataset !== undefined) entry.dataset = source.dataset;
    if (source.split !== undefined) entry.split = source.split;
    if (source.segment !== undefined) entry.segment = source.segment;
    return entry;
  });
  return [original, ...variants];
}

/** What a variant's level is measured in for flip rates: the CRF when every variant has one, else the ladder level. */
export type FlipUnit = 'crf' | 'level';

/** One scored variant for a flip rate (the shape `@vqlm/metrics` `flipRate` takes). */
export interface LadderFlipSample {
  /** Its ladder: `ladderKey` and the recipe kind (variants of other kinds of one source are not compared). */
  readonly sourceId: string;
  /** CRF or ladder level (higher = more compressed). */
  readonly level: number;
  readonly score: number;
}

/** Whether an entry is a distorted variant of a ladder (not a plain entry, not the level-0 original). */
export function isDistortedVariant(entry: ManifestEntry): boolean {
  return entry.variant !== undefined && entry.variant.recipe.kind !== 'original' && entry.variant.level > 0;
}

/**
 * The flip-rate samples of scored manifest entries. Only distorted variants count: entries without
 * `variant` and the level-0 originals (kind `original`, no CRF) are left out. The level is the CRF
 * when every counted variant has one, else the ladder level. Ladders are keyed by `ladderKey` and
 * recipe kind; a ladder with a single scored variant gives no pair and is dropped.
 */
export function flipSamples(scored: Iterable<{ readonly entry: ManifestEntry; readonly score: number }>): { unit: FlipUnit; samples: LadderFlipSample[] } {
  const variants = [...scored].filter(({ entry }) => isDistortedVariant(entry));
  const unit: FlipUnit = variants.length > 0 && variants.every(({ entry }) => entry.variant?.recipe.crf !== undefined) ? 'crf' : 'level';
  const samples = variants.map(({ entry, score }) => ({
    sourceId: `${ladderKey(entry)}\u0000${entry.variant?.recipe.kind}`,
    level: unit === 'crf' ? (entry.variant?.recipe.crf ?? 0) : (entry.variant?.level ?? 0),
    score,
  }));
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.sourceId, (counts.get(s.sourceId) ?? 0) + 1);
  return { unit, samples: samples.filter((s) => (counts.get(s.sourceId) ?? 0) > 1) };
}
