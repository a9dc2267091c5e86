import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@vqlm/datasets';
import { applyCalibration, parseCalibration } from '@vqlm/heads';
import { z } from 'zod';
import { formatAblationMarkdown, summarizeAblation, type AblationRun, type AblationSummary } from './ablation-summary.js';
import { hasCheckpoint } from './checkpoint.js';
import { parseTrainConfig, type TrainConfig } from './config.js';
import { TrainerError } from './errors.js';
import { finishedRunSummary, train, type TrainEvent } from './trainer.js';

/** CP-LLM Table 4 as ablation variants: pipelines (single / pair / mix) and branches (context-only / pixel-only). */
export const CP_LLM_TABLE4_VARIANTS: Readonly<Record<string, Record<string, unknown>>> = Object.freeze({
  mix: {},
  single: { train: { pairRatio: 0 } },
  pair: { train: { pairRatio: 1 } },
  'context-only': { model: { branches: 'context' } },
  'pixel-only': { model: { branches: 'pixel' } },
});

/** An ablation plan (JSON): variants as overrides of a base config, each trained with every seed. */
export const ablationPlanSchema = z
  .object({
    /** The variant the others are tested against. */
    baseline: z.string().min(1).default('mix'),
    seeds: z.array(z.number().int().nonnegative()).min(1).default([0, 1, 2]),
    /** Variant name → fields of the training config to change (deep-merged); default CP-LLM Table 4. */
    variants: z.record(z.string().min(1), z.record(z.string(), z.unknown())).default({ ...CP_LLM_TABLE4_VARIANTS }),
  })
  .strict();
export type AblationPlan = z.infer<typeof ablationPlanSchema>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `override` merged into `base`: objects field by field, anything else replaced. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

/** Events of {@link runAblation}. */
export type AblationEvent =
  | { readonly type: 'run'; readonly variant: string; readonly seed: number; readonly index: number; readonly total: number; readonly reused: boolean }
  | { readonly type: 'train'; readonly variant: string; readonly seed: number; readonly event: TrainEvent };

/** Options of {@link runAblation}. */
export interface RunAblationOptions {
  /** Directory of the runs (`<variant>/seed-<n>`), `ablation.json` and `ablation.md`. */
  readonly outDir: string;
  /** Directory relative paths of the base config are resolved against. */
  readonly baseDir: string;
  /** Shared view/feature cache (default `<outDir>/cache`): the frozen features are computed once for all runs. */
  readonly cacheDir?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: AblationEvent) => void;
}

/** Result of {@link runAblation}. */
export interface AblationResult {
  readonly runs: readonly AblationRun[];
  readonly summary: AblationSummary;
  readonly markdown: string;
  /** True when interrupted before every run finished (then `summary` covers none). */
  readonly interrupted: boolean;
}

interface RunSummaryFile {
  readonly fingerprint?: string;
  readonly calibration: unknown;
  readonly test: { readonly summary: Record<string, number> | null; readonly flip: { diff: number; rate: number | null }[] } | null;
  readonly val: { readonly summary: Record<string, number> | null; readonly flip: { diff: number; rate: number | null }[] } | null;
  readonly testItems: { id: string; score: number; target: number | null }[];
  readonly valItems?: { id: string; score: number; target: number | null }[];
}

function toRun(variant: string, seed: number, file: RunSummaryFile): AblationRun {
  const split = file.test ?? file.val;
  const items = file.test ? file.testItems : (file.valItems ?? []);
  if (!split || items.length === 0) throw new TrainerError('E_ABLATION', `${variant} seed ${seed}: no test or validation items to compare`);
  const calibration = parseCalibration(file.calibration);
  const metrics: Record<string, number | null> = {
    srcc: split.summary?.srcc ?? null,
    plcc: split.summary?.plcc ?? null,
    krcc: split.summary?.krcc ?? null,
    rmse: split.summary?.rmse ?? null,
  };
  for (const b of split.flip) metrics[`flip@${b.diff}`] = b.rate;
  const withTarget = items.filter((i) => i.target !== null);
  return {
    variant,
    seed,
    metrics,
    predictions: withTarget.map((i) => ({ id: i.id, score: applyCalibration(calibration, i.score) })),
    targets: Object.fromEntries(withTarget.map((i) => [i.id, i.target ?? 0])),
  };
}

/**
 * Trains every variant of the plan with every seed (runs already finished with the same settings
 * are reused; interrupted ones resume), then summarises them on the test split (validation when
 * there is no test split): mean ± std over seeds and significance tests against the baseline.
 * Writes `ablation.json` and `ablation.md` into `outDir`.
 * @throws TrainerError `E_ABLATION` for a plan whose baseline is not a variant.
 */
export async function runAblation(base: unknown, plan: AblationPlan, options: RunAblationOptions): Promise<AblationResult> {
  if (!(plan.baseline in plan.variants)) {
    throw new TrainerError('E_ABLATION', `plan.baseline: "${plan.baseline}" is not one of the variants (${Object.keys(plan.variants).join(', ')})`);
  }
  const runs: AblationRun[] = [];
  const jobs = Object.keys(plan.variants).flatMap((variant) => plan.seeds.map((seed) => ({ variant, seed })));
  for (const [index, { variant, seed }] of jobs.entries()) {
    // Table 4 compares single models: an ensemble setting of the base config is not applied.
    const merged = deepMerge(deepMerge(base, plan.variants[variant]), { seed, ensemble: { members: 1 }, output: { dir: join(options.outDir, variant, `seed-${seed}`) } });
    let config: TrainConfig;
    try {
      config = parseTrainConfig(merged, options.baseDir, `ablation ${variant} seed ${seed}`);
    } catch (error) {
      throw new TrainerError('E_ABLATION', (error as Error).message, { cause: error });
    }
    const summaryFile = join(config.output.dir, 'summary.json');
    let file = await finishedRunSummary<RunSummaryFile>(config);
    options.onEvent?.({ type: 'run', variant, seed, index, total: jobs.length, reused: file !== null });
    if (!file) {
      const resume = await hasCheckpoint(config.output.dir);
      const result = await train(config, {
        resume,
        fresh: !resume,
        cacheDir: options.cacheDir ?? join(options.outDir, 'cache'),
        signal: options.signal,
        onEvent: (event) => options.onEvent?.({ type: 'train', variant, seed, event }),
      });
      if (result.interrupted) {
        const empty = summarizeAblation(runs.length > 0 ? runs : [], { baseline: plan.baseline });
        return { runs, summary: empty, markdown: '', interrupted: true };
      }
      file = JSON.parse(await readFile(summaryFile, 'utf8')) as RunSummaryFile;
    }
    runs.push(toRun(variant, seed, file));
  }
  const summary = summarizeAblation(runs, { baseline: plan.baseline });
  const markdown = formatAblationMarkdown(summary);
  await writeFileAtomic(join(options.outDir, 'ablation.json'), `${JSON.stringify({ plan, runs, summary }, null, 2)}\n`);
  await writeFileAtomic(join(options.outDir, 'ablation.md'), markdown);
  return { runs, summary, markdown, interrupted: false };
}
