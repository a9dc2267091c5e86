import { flipSamples as ladderFlipSamples, type FlipUnit, type ManifestEntry } from '@vqlm/datasets';
import { levelFromScore } from '@vqlm/heads';
import { flipRateByDiff, summary, type FlipBucket, type FlipSample, type MetricSummary } from '@vqlm/metrics';
import type { CpLlm } from '@vqlm/models';
import { tf } from '@vqlm/runtime';
import { scoreTarget, stackViews } from './batch.js';
import type { PreparedItem } from './data.js';

/** One evaluated video. */
export interface ScoredItem {
  readonly id: string;
  /** Raw video score (mean of the key frames' raw scores). */
  readonly score: number;
  /** MOS or pseudo-MOS, when known. */
  readonly target: number | null;
}

/** Result of {@link evaluateSplit}. */
export interface EvalResult {
  readonly items: readonly ScoredItem[];
  /** SRCC, PLCC (no fit), KRCC, RMSE against the targets; null when fewer than 3 targets or a constant side. */
  readonly summary: MetricSummary | null;
  /** `crf` when every ladder entry has a CRF, else `level`. */
  readonly flipUnit: FlipUnit;
  readonly flip: readonly FlipBucket[];
  /** A few generated descriptions: id, text, and the text it was trained towards. */
  readonly descriptions: readonly { readonly id: string; readonly text: string; readonly reference: string | null }[];
}

/** An evaluation without its per-item scores (`summary.json`, `--json`): n, metrics, flip rates, descriptions. */
export function evalBrief(r: EvalResult | null): unknown {
  return r ? { n: r.items.length, summary: r.summary, flipUnit: r.flipUnit, flip: r.flip, descriptions: r.descriptions } : null;
}

/** Flip-rate samples of scored ladder entries (`@vqlm/datasets` `flipSamples`): by CRF when every variant has a CRF, else by ladder level. */
export function flipSamples(entries: readonly ManifestEntry[], scores: ReadonlyMap<string, number>): { unit: FlipUnit; samples: FlipSample[] } {
  return ladderFlipSamples(entries.flatMap((entry) => (scores.has(entry.id) ? [{ entry, score: scores.get(entry.id) ?? 0 }] : [])));
}

/** Raw video scores of prepared items, in batches (no decoder run). */
export async function scoreItems(model: CpLlm, items: readonly PreparedItem[], batchSize = 16): Promise<number[]> {
  const out: number[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const { features, pixel } = stackViews(model, items.slice(start, start + batchSize));
    const scores = tf.tidy(() => tf.mean(model.frameScores({ contextFeatures: features, pixel }), 1));
    features.dispose();
    out.push(...(await scores.data()));
    scores.dispose();
  }
  return out;
}

/**
 * SRCC/PLCC/KRCC/RMSE of scored items against their targets (null when fewer than 3 targets or a
 * constant side) and the flip rate by level (CRF) difference over the ladders of `entries`.
 */
export function scoreMetrics(entries: readonly ManifestEntry[], scored: readonly ScoredItem[], flipDiffs: readonly number[]): Pick<EvalResult, 'summary' | 'flipUnit' | 'flip'> {
  const withTarget = scored.filter((s) => s.target !== null);
  let metricSummary: MetricSummary | null = null;
  if (withTarget.length >= 3) {
    try {
      metricSummary = summary(
        withTarget.map((s) => s.score),
        withTarget.map((s) => s.target ?? 0),
      );
    } catch {
      metricSummary = null; // constant predictions or targets: no correlation
    }
  }
  const { unit, samples } = flipSamples(entries, new Map(scored.map((s) => [s.id, s.score])));
  let flip: FlipBucket[] = flipDiffs.map((diff) => ({ diff, pairs: 0, flips: 0, rate: null }));
  if (samples.length >= 2) {
    try {
      flip = flipRateByDiff(samples, flipDiffs);
    } catch {
      // no pair of one source: keep the empty buckets
    }
  }
  return { summary: metricSummary, flipUnit: unit, flip };
}

/**
 * Scores every prepared item of a split and computes SRCC/PLCC/KRCC/RMSE against the targets,
 * the flip rate by level (CRF) difference, and a few greedy descriptions.
 */
export async function evaluateSplit(model: CpLlm, items: readonly PreparedItem[], options: { flipDiffs: readonly number[]; descriptions: number }): Promise<EvalResult> {
  const scores = await scoreItems(model, items);
  const scored: ScoredItem[] = items.map((item, i) => ({ id: item.entry.id, score: scores[i], target: scoreTarget(item.entry) }));
  const { summary: metricSummary, flipUnit: unit, flip } = scoreMetrics(
    items.map((i) => i.entry),
    scored,
    options.flipDiffs,
  );
  const descriptions: { id: string; text: string; reference: string | null }[] = [];
  const { m, k, contextSize: s, patchSize: p } = model.config;
  const step = Math.max(1, Math.floor(items.length / Math.max(1, options.descriptions)));
  for (let i = 0; i < items.length && descriptions.length < options.descriptions; i += step) {
    const item = items[i];
    // A describe lead with {level} gets the level of the target (the describer phase trains it so); without a target, no lead.
    const target = scoreTarget(item.entry);
    const lead = model.config.describeLead?.includes('{level}') ? (target === null ? { lead: null } : { level: levelFromScore(target) }) : {};
    const text = await model.describeViews({ context: { data: item.context, dims: [m, s, s, 3] }, pixel: { data: item.pixel, dims: [m, k, p, p, 3] } }, null, lead);
    descriptions.push({ id: item.entry.id, text, reference: item.entry.description ?? null });
  }
  return { items: scored, summary: metricSummary, flipUnit: unit, flip, descriptions };
}
