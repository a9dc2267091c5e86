import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@vqlm/datasets';
import { applyCalibration, parseCalibration } from '@vqlm/heads';
import { saveEnsembleBundle } from '@vqlm/models';
import type { TrainConfig } from './config.js';
import { loadEntries } from './data.js';
import { TrainerError } from './errors.js';
import { evalBrief, scoreMetrics, type EvalResult, type ScoredItem } from './evaluate.js';
import { hasCheckpoint } from './checkpoint.js';
import { finishedRunSummary, runTraining, type TrainOptions, type TrainResult } from './trainer.js';

/** Directory of an ensemble run that holds its members' runs (`members/seed-<n>`). */
export const ENSEMBLE_RUNS_DIR = 'members';

/** What an ensemble needs of a member's `summary.json`. */
interface MemberSummary {
  readonly seed: number;
  readonly steps: number;
  readonly calibration: unknown;
  readonly val: { readonly descriptions?: EvalResult['descriptions'] } | null;
  readonly test: { readonly descriptions?: EvalResult['descriptions'] } | null;
  readonly valItems: readonly ScoredItem[];
  readonly testItems: readonly ScoredItem[];
}

/**
 * The config of member `index` of an ensemble: seed `seed + index`, its own run directory, one
 * model; when the manifest has no split column, the base seed's split (so that every member
 * trains, validates and tests on the same sources).
 */
export function memberConfig(config: TrainConfig, index: number, manifestHasSplits: boolean): TrainConfig {
  const seed = config.seed + index;
  return {
    ...config,
    seed,
    data: manifestHasSplits ? config.data : { ...config.data, splitSeed: config.data.splitSeed ?? config.seed },
    ensemble: { members: 1 },
    output: { ...config.output, dir: join(config.output.dir, ENSEMBLE_RUNS_DIR, `seed-${seed}`) },
  };
}

/** Mean of the members' calibrated scores of each item every member scored. */
function ensembleItems(members: readonly MemberSummary[], split: 'valItems' | 'testItems'): ScoredItem[] {
  const calibrations = members.map((m) => parseCalibration(m.calibration));
  const byId = members.map((m) => new Map(m[split].map((item) => [item.id, item])));
  return members[0][split].flatMap((first) => {
    const scores = byId.map((items, i) => {
      const item = items.get(first.id);
      return item ? applyCalibration(calibrations[i], item.score) : null;
    });
    if (scores.some((s) => s === null)) return [];
    return [{ id: first.id, score: (scores as number[]).reduce((a, b) => a + b, 0) / scores.length, target: first.target }];
  });
}

/**
 * Trains `config.ensemble.members` models with seeds `seed`, `seed + 1`, … (each a full run with
 * its own checkpoints, log, plot and bundle under `<output.dir>/members/seed-<n>`; finished
 * members with the same settings are reused, an interrupted one continues with `resume`), then
 * writes the ensemble bundle (`@vqlm/models` `saveEnsembleBundle`), the first member's curves and
 * a `summary.json` with each member's results and the ensemble's on the validation and test
 * splits (the mean of the members' calibrated scores).
 */
export async function trainEnsemble(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const n = config.ensemble.members;
  if (n < 2) throw new TrainerError('E_CONFIG', `ensemble.members: trainEnsemble needs 2 or more, got ${n}`);
  const runDir = config.output.dir;
  if (options.fresh) {
    for (const name of [ENSEMBLE_RUNS_DIR, 'bundle', 'summary.json', 'curves.svg', 'curves.png']) await rm(join(runDir, name), { recursive: true, force: true });
  }
  const { entries } = await loadEntries(config);
  const hasSplits = entries.every((e) => e.split !== undefined);
  const results: { config: TrainConfig; summary: MemberSummary; result: TrainResult | null }[] = [];
  for (let index = 0; index < n; index++) {
    const member = memberConfig(config, index, hasSplits);
    let summary = await finishedRunSummary<MemberSummary>(member);
    options.onEvent?.({ type: 'member', index, total: n, seed: member.seed, reused: summary !== null });
    let result: TrainResult | null = null;
    if (!summary) {
      const resume = options.resume === true && (await hasCheckpoint(member.output.dir));
      // One cache of views and features for all members (they read the same videos).
      result = await runTraining(member, { ...options, resume, cacheDir: options.cacheDir ?? join(runDir, 'cache') });
      // Interrupted: the result names the member's run directory, where its checkpoint is.
      if (result.interrupted) return result;
      summary = await finishedRunSummary<MemberSummary>(member);
      if (!summary) throw new TrainerError('E_CHECKPOINT', `${member.output.dir}: the member finished but wrote no summary.json`);
    }
    results.push({ config: member, summary, result });
  }

  const memberSummaries = results.map((r) => r.summary);
  const evaluate = (split: 'val' | 'test'): EvalResult | null => {
    const items = ensembleItems(memberSummaries, split === 'val' ? 'valItems' : 'testItems');
    if (items.length === 0) return null;
    const ids = new Set(items.map((i) => i.id));
    const metrics = scoreMetrics(
      entries.filter((e) => ids.has(e.id)),
      items,
      config.eval.flipDiffs,
    );
    return { items, ...metrics, descriptions: memberSummaries[0][split]?.descriptions ?? [] };
  };
  const val = evaluate('val');
  const test = evaluate('test');
  const bundleDir = join(runDir, 'bundle');
  await saveEnsembleBundle(
    results.map((r) => join(r.config.output.dir, 'bundle')),
    bundleDir,
    { memberInfo: results.map((r) => ({ seed: r.config.seed })) },
  );
  // The curves of the first member (each member's are in its own run directory).
  const plotFile = join(runDir, `curves.${config.output.plot}`);
  await copyFile(join(results[0].config.output.dir, `curves.${config.output.plot}`), plotFile);
  await writeFileAtomic(
    join(runDir, 'summary.json'),
    `${JSON.stringify(
      {
        name: config.name,
        seed: config.seed,
        ensemble: true,
        members: results.map((r) => ({ seed: r.config.seed, dir: r.config.output.dir, val: r.summary.val, test: r.summary.test })),
        scores: 'mean of the members’ calibrated scores',
        val: evalBrief(val),
        test: evalBrief(test),
        valItems: val?.items ?? [],
        testItems: test?.items ?? [],
      },
      null,
      2,
    )}\n`,
  );
  const log = results.flatMap((r) => r.result?.log ?? []);
  return {
    runDir,
    interrupted: false,
    // Steps of one member (each trains the same number), also when every member was reused.
    step: memberSummaries[memberSummaries.length - 1].steps,
    epoch: config.train.epochs,
    bundleDir,
    plotFile,
    calibration: null,
    val,
    test,
    log,
    members: results.map((r) => ({ seed: r.config.seed, runDir: r.config.output.dir, reused: r.result === null })),
  };
}
