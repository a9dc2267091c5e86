import {
  compareCorrelations,
  MetricError,
  pairedTTest,
  plcc,
  srcc,
  wilcoxonSignedRank,
} from '@vqlm/metrics';
import { TrainerError } from './errors.js';

/** One trained run of an ablation variant, evaluated on the shared test split. */
export interface AblationRun {
  readonly variant: string;
  readonly seed: number;
  /** Metrics of this run on the test split: srcc, plcc, krcc, rmse, flip@<diff> … (`null` = not computable). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** Per test item: id and predicted score; the same item ids in every run. */
  readonly predictions: readonly { readonly id: string; readonly score: number }[];
  /** Target (MOS / pseudo-MOS) per item id. */
  readonly targets: Readonly<Record<string, number>>;
}

/** Mean and sample standard deviation of one metric of one variant over its seeds. */
export interface MetricStats {
  /** Mean over the seeds where the metric was computable; `null` when none was. */
  readonly mean: number | null;
  /** Sample standard deviation (n − 1); `null` when n < 2. */
  readonly std: number | null;
  /** Seeds with a value. */
  readonly n: number;
}

/** A significance test's outcome; `pValue: null` with the `reason` when it could not be run. */
export interface TestOutcome {
  readonly statistic: number | null;
  readonly pValue: number | null;
  /** Why the test was not run (too few seeds, all differences equal …); absent when it ran. */
  readonly reason?: string;
}

/** Paired t-test over the seeds both variants share (`scipy.stats.ttest_rel`). */
export interface SeedTest extends TestOutcome {
  /** Mean over the shared seeds of (variant − baseline). */
  readonly meanDifference: number | null;
  /** Seeds paired (present in both, metric computable in both). */
  readonly n: number;
  /** Degrees of freedom, n − 1. */
  readonly df: number | null;
}

/** Williams' t for r(variant, target) vs r(baseline, target) on the same items. */
export interface CorrelationTest extends TestOutcome {
  /** r(seed-averaged variant predictions, targets). */
  readonly variant: number | null;
  /** r(seed-averaged baseline predictions, targets). */
  readonly baseline: number | null;
}

/** Wilcoxon signed-rank test on per-item absolute errors of the seed-averaged predictions. */
export interface AbsoluteErrorTest extends TestOutcome {
  /** Mean |prediction − target| of the variant's seed-averaged predictions. */
  readonly variantMae: number;
  /** The same for the baseline. */
  readonly baselineMae: number;
  /** Items with a non-zero difference in absolute error (the test's n). */
  readonly n: number;
}

/** One variant: its seeds, the per-metric statistics, and its seed-averaged ("ensemble") predictions scored. */
export interface VariantSummary {
  readonly variant: string;
  /** Seeds, ascending. */
  readonly seeds: readonly number[];
  /** Per metric (keys of {@link AblationSummary.metrics}). */
  readonly metrics: Readonly<Record<string, MetricStats>>;
  /**
   * The mean prediction over seeds (per item) against the targets: SRCC, PLCC
   * (no fit; `null` if undefined, e.g. constant predictions) and the mean
   * absolute error.
   */
  readonly ensemble: {
    readonly srcc: number | null;
    readonly plcc: number | null;
    readonly mae: number;
  };
}

/** One variant against the baseline. */
export interface BaselineComparison {
  readonly variant: string;
  /** Paired t-test over seeds, per metric. */
  readonly metrics: Readonly<Record<string, SeedTest>>;
  /** Williams' t on the SRCC (on ranks) of the seed-averaged predictions. */
  readonly srcc: CorrelationTest;
  /** Williams' t on the PLCC of the seed-averaged predictions. */
  readonly plcc: CorrelationTest;
  /** Wilcoxon signed-rank on per-item |error| (variant − baseline; W+ large = variant worse). */
  readonly absoluteError: AbsoluteErrorTest;
}

/** Everything {@link formatAblationMarkdown} prints. */
export interface AblationSummary {
  readonly baseline: string;
  /** Metric names in display order: srcc, plcc, krcc, rmse, flip@… by difference, then the rest A–Z. */
  readonly metrics: readonly string[];
  /** Test items shared by every run. */
  readonly items: number;
  /** Variants in order of first appearance in the runs. */
  readonly variants: readonly VariantSummary[];
  /** One per variant other than the baseline, in the same order. */
  readonly comparisons: readonly BaselineComparison[];
  /** Caveats to print with the tables (low power, untested metrics). */
  readonly notes: readonly string[];
}

/** Options of {@link summarizeAblation}. */
export interface AblationOptions {
  /** The variant every other one is compared with. */
  readonly baseline: string;
}

/** Array.isArray without narrowing (runs may come from untyped JSON). */
const isArray = (value: unknown): boolean => Array.isArray(value);

const METRIC_ORDER = ['srcc', 'plcc', 'krcc', 'rmse'];

function ablationError(message: string): TrainerError {
  return new TrainerError('E_ABLATION', message);
}

const runName = (run: AblationRun): string => `${run.variant} (seed ${run.seed})`;

function compareMetricNames(a: string, b: string): number {
  const rank = (name: string): number => {
    const i = METRIC_ORDER.indexOf(name);
    if (i >= 0) return i;
    return name.startsWith('flip@') ? METRIC_ORDER.length : METRIC_ORDER.length + 1;
  };
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === METRIC_ORDER.length) {
    const da = Number(a.slice('flip@'.length));
    const db = Number(b.slice('flip@'.length));
    if (da !== db && Number.isFinite(da) && Number.isFinite(db)) return da - db;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks the runs and returns the shared item ids (in the first run's order) and their targets. */
function checkRuns(runs: readonly AblationRun[]): { ids: string[]; targets: number[] } {
  if (!isArray(runs) || runs.length === 0) {
    throw ablationError('an ablation needs at least one run, got none');
  }
  const seen = new Set<string>();
  for (const run of runs) {
    if (typeof run.variant !== 'string' || run.variant === '') {
      throw ablationError(
        `every run needs a non-empty variant name, got ${JSON.stringify(run.variant)}`,
      );
    }
    if (!Number.isInteger(run.seed)) {
      throw ablationError(
        `run ${run.variant} has seed ${String(run.seed)}; seeds must be integers`,
      );
    }
    const key = `${run.variant}\u0000${run.seed}`;
    if (seen.has(key)) throw ablationError(`run ${runName(run)} appears twice`);
    seen.add(key);
    for (const [name, value] of Object.entries(run.metrics)) {
      if (value !== null && !(typeof value === 'number' && Number.isFinite(value))) {
        throw ablationError(
          `run ${runName(run)}: metric ${name} is ${String(value)}; use a finite number or null (not computable)`,
        );
      }
    }
  }
  const first = runs[0];
  const ids = first.predictions.map((p) => p.id);
  if (ids.length === 0) throw ablationError(`run ${runName(first)} has no predictions`);
  const idSet = new Set(ids);
  const targets = ids.map((id) => {
    const t = first.targets[id];
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw ablationError(
        `run ${runName(first)}: target of item ${id} is ${String(t)}; every item needs a finite target`,
      );
    }
    return t;
  });
  for (const run of runs) {
    const own = new Set<string>();
    for (const p of run.predictions) {
      if (own.has(p.id)) throw ablationError(`run ${runName(run)} predicts item ${p.id} twice`);
      own.add(p.id);
      if (typeof p.score !== 'number' || !Number.isFinite(p.score)) {
        throw ablationError(`run ${runName(run)}: score of item ${p.id} is ${String(p.score)}`);
      }
      if (!idSet.has(p.id)) {
        throw ablationError(
          `runs have different item sets: ${runName(run)} predicts item ${p.id}, which ${runName(first)} does not`,
        );
      }
    }
    if (own.size !== idSet.size) {
      const missing = ids.find((id) => !own.has(id));
      throw ablationError(
        `runs have different item sets: ${runName(run)} lacks item ${missing} (${own.size} items, ${runName(first)} has ${idSet.size})`,
      );
    }
    ids.forEach((id, i) => {
      if (run.targets[id] !== targets[i]) {
        throw ablationError(
          `runs disagree on the target of item ${id}: ${runName(run)} has ${String(run.targets[id])}, ${runName(first)} has ${targets[i]}`,
        );
      }
    });
  }
  return { ids, targets };
}

function stats(values: readonly number[]): MetricStats {
  const n = values.length;
  if (n === 0) return { mean: null, std: null, n };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, std: null, n };
  const ss = values.reduce((s, v) => s + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

/** Runs a @vqlm/metrics test; a MetricError (too few points, constant input …) becomes a reason. */
function attempt<T>(run: () => T): { value: T } | { reason: string } {
  try {
    return { value: run() };
  } catch (error) {
    if (error instanceof MetricError) return { reason: error.message };
    throw error;
  }
}

function seedTest(
  metric: string,
  variant: readonly AblationRun[],
  baseline: readonly AblationRun[],
): SeedTest {
  const bySeed = new Map(baseline.map((r) => [r.seed, r.metrics[metric]]));
  const a: number[] = [];
  const b: number[] = [];
  for (const run of variant) {
    const x = run.metrics[metric];
    const y = bySeed.get(run.seed);
    if (typeof x === 'number' && typeof y === 'number') {
      a.push(x);
      b.push(y);
    }
  }
  const n = a.length;
  const meanDifference = n > 0 ? a.reduce((s, v, i) => s + v - b[i], 0) / n : null;
  if (n < 2) {
    return {
      statistic: null,
      pValue: null,
      meanDifference,
      n,
      df: null,
      reason: `needs at least 2 seeds where both runs have ${metric}, got ${n}`,
    };
  }
  const result = attempt(() => pairedTTest(a, b));
  if ('reason' in result) {
    return { statistic: null, pValue: null, meanDifference, n, df: null, reason: result.reason };
  }
  const t = result.value;
  return {
    statistic: t.statistic,
    pValue: t.pValue,
    meanDifference: t.meanDifference,
    n,
    df: t.df,
  };
}

function correlationTest(
  kind: 'srcc' | 'plcc',
  variant: Float64Array,
  baseline: Float64Array,
  targets: Float64Array,
  rVariant: number | null,
  rBaseline: number | null,
): CorrelationTest {
  const result = attempt(() =>
    compareCorrelations(variant, baseline, targets, { method: 'williams', correlation: kind }),
  );
  if ('reason' in result) {
    return {
      variant: rVariant,
      baseline: rBaseline,
      statistic: null,
      pValue: null,
      reason: result.reason,
    };
  }
  return {
    variant: rVariant,
    baseline: rBaseline,
    statistic: result.value.statistic,
    pValue: result.value.pValue,
  };
}

function absoluteErrorTest(
  variant: Float64Array,
  baseline: Float64Array,
  targets: Float64Array,
): AbsoluteErrorTest {
  const errorsOf = (pred: Float64Array): Float64Array =>
    pred.map((p, i) => Math.abs(p - targets[i]));
  const a = errorsOf(variant);
  const b = errorsOf(baseline);
  const mae = (e: Float64Array): number => e.reduce((s, v) => s + v, 0) / e.length;
  let nonZero = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) nonZero++;
  const base = { variantMae: mae(a), baselineMae: mae(b), n: nonZero };
  const result = attempt(() => wilcoxonSignedRank(a, b));
  if ('reason' in result) return { ...base, statistic: null, pValue: null, reason: result.reason };
  return { ...base, statistic: result.value.statistic, pValue: result.value.pValue };
}

const correlationOrNull = (f: () => number): number | null => {
  const result = attempt(f);
  return 'reason' in result ? null : result.value;
};

/**
 * Summarises an ablation: for each variant and metric the mean, sample
 * standard deviation and number of seeds; for each variant against the
 * baseline a paired t-test over the shared seeds on every metric, and, on
 * the predictions averaged over seeds (per item), Williams' t for SRCC and
 * PLCC against the targets (dependent correlations on the same items) and a
 * Wilcoxon signed-rank test on the per-item absolute errors. A test that
 * cannot run (fewer than 2 shared seeds, all differences equal, fewer than 4
 * items, a perfect correlation) gets `pValue: null` and a `reason`.
 *
 * @throws TrainerError `E_ABLATION` naming the run or item: no runs, an unknown
 *   baseline, a (variant, seed) twice, runs with different item sets or
 *   targets, a non-finite score or metric
 */
export function summarizeAblation(
  runs: readonly AblationRun[],
  options: AblationOptions,
): AblationSummary {
  const { ids, targets } = checkRuns(runs);
  const groups = new Map<string, AblationRun[]>();
  for (const run of runs) {
    const group = groups.get(run.variant);
    if (group) group.push(run);
    else groups.set(run.variant, [run]);
  }
  const { baseline } = options;
  if (!groups.has(baseline)) {
    throw ablationError(
      `unknown baseline ${JSON.stringify(baseline)}; the variants are ${[...groups.keys()].join(', ')}`,
    );
  }
  for (const group of groups.values()) group.sort((a, b) => a.seed - b.seed);
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort(
    compareMetricNames,
  );
  const y = Float64Array.from(targets);

  const index = new Map(ids.map((id, i) => [id, i]));
  const ensembles = new Map<string, Float64Array>();
  const variants: VariantSummary[] = [];
  for (const [variant, group] of groups) {
    const mean = new Float64Array(ids.length);
    for (const run of group) {
      for (const p of run.predictions) mean[index.get(p.id)!] += p.score;
    }
    for (let i = 0; i < mean.length; i++) mean[i] /= group.length;
    ensembles.set(variant, mean);
    const perMetric: Record<string, MetricStats> = {};
    for (const metric of metrics) {
      perMetric[metric] = stats(
        group.map((r) => r.metrics[metric]).filter((v): v is number => typeof v === 'number'),
      );
    }
    variants.push({
      variant,
      seeds: group.map((r) => r.seed),
      metrics: perMetric,
      ensemble: {
        srcc: correlationOrNull(() => srcc(mean, y)),
        plcc: correlationOrNull(() => plcc(mean, y)),
        mae: mean.reduce((s, p, i) => s + Math.abs(p - y[i]), 0) / ids.length,
      },
    });
  }

  const baseRuns = groups.get(baseline)!;
  const baseEnsemble = ensembles.get(baseline)!;
  const baseSummary = variants.find((v) => v.variant === baseline)!;
  const comparisons: BaselineComparison[] = [];
  for (const summary of variants) {
    if (summary.variant === baseline) continue;
    const group = groups.get(summary.variant)!;
    const ensemble = ensembles.get(summary.variant)!;
    const perMetric: Record<string, SeedTest> = {};
    for (const metric of metrics) perMetric[metric] = seedTest(metric, group, baseRuns);
    comparisons.push({
      variant: summary.variant,
      metrics: perMetric,
      srcc: correlationTest(
        'srcc',
        ensemble,
        baseEnsemble,
        y,
        summary.ensemble.srcc,
        baseSummary.ensemble.srcc,
      ),
      plcc: correlationTest(
        'plcc',
        ensemble,
        baseEnsemble,
        y,
        summary.ensemble.plcc,
        baseSummary.ensemble.plcc,
      ),
      absoluteError: absoluteErrorTest(ensemble, baseEnsemble, y),
    });
  }

  const seedCounts = [...groups.values()].map((g) => g.length);
  const fewest = Math.min(...seedCounts);
  const notes = [
    `Paired t-tests pair runs by seed; with ${fewest} seed${fewest === 1 ? '' : 's'} per variant they have ${Math.max(fewest - 1, 0)} degree${fewest - 1 === 1 ? '' : 's'} of freedom and little power: p ≥ 0.05 does not show that two variants are equal, and no correction for multiple comparisons is applied.`,
    `Williams' t (SRCC on ranks, PLCC without a logistic fit) and the Wilcoxon signed-rank test on |prediction − target| use the predictions averaged over seeds on the ${ids.length} shared test items; they treat items, not seeds, as the unit, so they ignore seed-to-seed variance.`,
  ];
  return { baseline, metrics, items: ids.length, variants, comparisons, notes };
}

const METRIC_LABELS: Readonly<Record<string, string>> = {
  srcc: 'SRCC',
  plcc: 'PLCC',
  krcc: 'KRCC',
  rmse: 'RMSE',
};
const label = (metric: string): string => METRIC_LABELS[metric] ?? metric;

function formatNumber(value: number | null, digits = 3): string {
  return value === null ? '—' : value.toFixed(digits);
}

function formatP(p: number | null): string {
  if (p === null) return 'n/a';
  if (p >= 0.001) return p.toFixed(3);
  return p.toExponential(1);
}

function formatStats(s: MetricStats): string {
  if (s.mean === null) return '—';
  return s.std === null
    ? `${formatNumber(s.mean)} (n=${s.n})`
    : `${formatNumber(s.mean)} ± ${formatNumber(s.std)}`;
}

const signed = (v: number | null): string =>
  v === null ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|');

/**
 * Formats a summary as Markdown: a table of mean ± sample std per variant and
 * metric with the paired-t p-value of SRCC against the baseline, a table of
 * the tests on the seed-averaged predictions, a table of the paired t-tests
 * on every metric, the reasons of the tests that could not run, and the notes.
 */
export function formatAblationMarkdown(summary: AblationSummary): string {
  const { baseline, metrics } = summary;
  const lines: string[] = [];
  const byVariant = new Map(summary.comparisons.map((c) => [c.variant, c]));
  const table = (header: string[], rows: string[][]): void => {
    lines.push(
      `| ${header.join(' | ')} |`,
      `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    );
    for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
    lines.push('');
  };
  const keyMetric = metrics.includes('srcc') ? 'srcc' : metrics[0];
  const minSeeds = Math.min(...summary.variants.map((v) => v.seeds.length));

  lines.push(
    `Baseline: **${escapeCell(baseline)}**; mean ± sample std over seeds; ${summary.items} test items.`,
    '',
  );
  table(
    [
      'variant',
      'seeds',
      ...metrics.map((m) => `${label(m)} mean ± std`),
      ...(keyMetric === undefined ? [] : [`p vs baseline (${label(keyMetric)}, paired t)`]),
    ],
    summary.variants.map((v) => [
      escapeCell(v.variant),
      String(v.seeds.length),
      ...metrics.map((m) => formatStats(v.metrics[m])),
      ...(keyMetric === undefined
        ? []
        : [
            v.variant === baseline
              ? '(baseline)'
              : formatP(byVariant.get(v.variant)?.metrics[keyMetric].pValue ?? null),
          ]),
    ]),
  );

  lines.push(
    'Seed-averaged predictions against the targets (Williams’ t for the correlations, Wilcoxon signed-rank for |error|):',
    '',
  );
  table(
    ['variant', 'SRCC', 'p (SRCC)', 'PLCC', 'p (PLCC)', 'mean abs. error', 'p (abs. error)'],
    summary.variants.map((v) => {
      const c = byVariant.get(v.variant);
      return [
        escapeCell(v.variant),
        formatNumber(v.ensemble.srcc),
        c ? formatP(c.srcc.pValue) : '(baseline)',
        formatNumber(v.ensemble.plcc),
        c ? formatP(c.plcc.pValue) : '(baseline)',
        formatNumber(v.ensemble.mae),
        c ? formatP(c.absoluteError.pValue) : '(baseline)',
      ];
    }),
  );

  if (summary.comparisons.length > 0) {
    lines.push(
      `Paired t-tests over seeds (Δ = variant − ${escapeCell(baseline)}; metrics missing from either variant left out):`,
      '',
    );
    const rows: string[][] = [];
    for (const c of summary.comparisons) {
      for (const m of metrics) {
        const t = c.metrics[m];
        if (t.n === 0) continue; // the metric is missing from one of the two variants
        rows.push([
          escapeCell(c.variant),
          label(m),
          signed(t.meanDifference),
          String(t.n),
          t.statistic === null ? '—' : t.statistic.toFixed(2),
          formatP(t.pValue),
        ]);
      }
    }
    table(['variant', 'metric', 'Δ mean', 'seeds', 't', 'p'], rows);
  }

  const reasons = new Set<string>();
  for (const c of summary.comparisons) {
    for (const m of metrics) {
      const { reason, n } = c.metrics[m];
      if (reason && n > 0) reasons.add(`${c.variant}, ${label(m)} (paired t): ${reason}`);
    }
    for (const [name, test] of [
      ['SRCC (Williams)', c.srcc],
      ['PLCC (Williams)', c.plcc],
      ['abs. error (Wilcoxon)', c.absoluteError],
    ] as const) {
      if (test.reason) reasons.add(`${c.variant}, ${name}: ${test.reason}`);
    }
  }
  if (reasons.size > 0) {
    lines.push('Tests not run (n/a):', '');
    for (const r of reasons) lines.push(`- ${r}`);
    lines.push('');
  }
  lines.push(`Notes (fewest seeds per variant: ${minSeeds}):`, '');
  for (const note of summary.notes) lines.push(`- ${note}`);
  return `${lines.join('\n')}\n`;
}
