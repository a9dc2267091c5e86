import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@vqlm/datasets';
import { applyCalibration, parseCalibration } from '@vqlm/heads';
import { saveEnsembleBundle } from '@vqlm/models';
import { ensembleSize, groupModel, type TrainConfig } from './config.js';
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
 * trains, validates and tests on the same sources). `group`: a member of that `ensemble.groups`
 * entry (its model settings, run directory `<name>-seed-<n>`).
 */
export function memberConfig(config: TrainConfig, index: number, manifestHasSplits: boolean, group?: TrainConfig['ensemble']['groups'][number]): TrainConfig {
  const seed = config.seed + index;
  return {
    ...config,
    seed,
    data: manifestHasSplits ? config.data : { ...config.data, splitSeed: config.data.splitSeed ?? config.seed },
    model: group ? groupModel(config, group) : config.model,
    // Only the first member describes, so only it runs the describer phase.
    describer: index === 0 && !group ? config.describer : { ...config.describer, steps: 0 },
    ensemble: { members: 1, groups: [] },
    output: { ...config.output, dir: join(config.output.dir, ENSEMBLE_RUNS_DIR, group ? `${group.name}-seed-${seed}` : `seed-${seed}`) },
  };
}

/** Every member of an ensemble in order: `ensemble.members` of the base model, then each group's. */
export function ensembleMembers(config: TrainConfig, manifestHasSplits: boolean): { config: TrainConfig; group: string | null }[] {
  const members = Array.from({ length: config.ensemble.members }, (_, i) => ({ config: memberConfig(config, i, manifestHasSplits), group: null as string | null }));
  for (const group of config.ensemble.groups) {
    for (let i = 0; i < group.members; i++) members.push({ config: memberConfig(config, i, manifestHasSplits, group), group: group.name });
  }
  return members;
}

/** The built `vqlm-train` beside this module (dist), or the package's dist when running from source. */
function trainerBin(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'bin.js'), join(here, '..', 'dist', 'bin.js')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new TrainerError('E_CONFIG', `jobs: training members in parallel runs the built vqlm-train, not found at ${candidates.join(' or ')}`);
  return found;
}

/**
 * Trains one member in a child `vqlm-train` process (its config written to
 * `<run>/member-config.json`): its progress lines go to `onLine`; `signal` stops it with SIGTERM
 * (it finishes the step and writes a checkpoint). The child runs in its own process group, so a
 * Ctrl-C reaches it once, through this process.
 */
async function trainInChild(member: TrainConfig, options: { resume: boolean; cacheDir: string; signal?: AbortSignal; onLine: (line: string) => void }): Promise<'done' | 'interrupted'> {
  const configFile = join(member.output.dir, 'member-config.json');
  await writeFileAtomic(configFile, `${JSON.stringify(member, null, 2)}\n`);
  const args = [trainerBin(), 'train', '--config', configFile, '--cache-dir', options.cacheDir, ...(options.resume ? ['--resume'] : [])];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const tail: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (line.trim() === '') return;
      tail.push(line);
      if (tail.length > 5) tail.shift();
      options.onLine(line);
    });
    const stop = (): void => {
      child.kill('SIGTERM');
    };
    // Should this process exit early, the child does not outlive it.
    const onExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', onExit);
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (error) => {
      process.off('exit', onExit);
      fail(new TrainerError('E_CONFIG', `${member.output.dir}: cannot start vqlm-train (${error.message})`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      process.off('exit', onExit);
      options.signal?.removeEventListener('abort', stop);
      if (code === 0) done('done');
      else if (code === 130 || code === 143) done('interrupted');
      else fail(new TrainerError('E_MEMBER', `${member.output.dir}: the member's training failed (${signal ?? `exit ${code}`}): ${tail.join(' | ')}`));
    });
  });
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
 * Trains the ensemble's members: `ensemble.members` models with seeds `seed`, `seed + 1`, …
 * (each a full run with its own checkpoints, log, plot and bundle under
 * `<output.dir>/members/seed-<n>`), then each `ensemble.groups` entry's under
 * `members/<name>-seed-<n>`. Finished members with the same settings are reused, an interrupted one
 * continues with `resume`; with `jobs` > 1 that many members train at once, each in a child
 * `vqlm-train` process. Then it writes the ensemble bundle (`@vqlm/models` `saveEnsembleBundle`),
 * the first member's curves and a `summary.json` with each member's results and the ensemble's on
 * the validation and test splits (the mean of the members' calibrated scores).
 */
export async function trainEnsemble(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const n = ensembleSize(config);
  if (n < 2) throw new TrainerError('E_CONFIG', `ensemble.members: trainEnsemble needs 2 or more members, got ${n}`);
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new TrainerError('E_CONFIG', `jobs: expected a positive integer, got ${String(jobs)}`);
  const runDir = config.output.dir;
  if (options.fresh) {
    for (const name of [ENSEMBLE_RUNS_DIR, 'bundle', 'summary.json', 'curves.svg', 'curves.png']) await rm(join(runDir, name), { recursive: true, force: true });
  }
  const { entries } = await loadEntries(config);
  const hasSplits = entries.every((e) => e.split !== undefined);
  const members = ensembleMembers(config, hasSplits);
  // One cache of views and features for all members (they read the same videos; keys include the view settings).
  const cacheDir = options.cacheDir ?? join(runDir, 'cache');
  const summaries: (MemberSummary | null)[] = [];
  for (const member of members) summaries.push(await finishedRunSummary<MemberSummary>(member.config));
  const reusedFlags = summaries.map((summary) => summary !== null);
  const trained: (TrainResult | null)[] = members.map(() => null);
  const memberEvent = (index: number, reused: boolean): void => {
    options.onEvent?.({ type: 'member', index, total: n, seed: members[index].config.seed, group: members[index].group, reused });
  };
  const finished = async (index: number): Promise<MemberSummary> => {
    const summary = await finishedRunSummary<MemberSummary>(members[index].config);
    if (!summary) throw new TrainerError('E_CHECKPOINT', `${members[index].config.output.dir}: the member finished but wrote no summary.json`);
    return summary;
  };
  let interrupted: number | null = null;
  if (jobs === 1) {
    for (const [index, member] of members.entries()) {
      memberEvent(index, summaries[index] !== null);
      if (summaries[index]) continue;
      const resume = options.resume === true && (await hasCheckpoint(member.config.output.dir));
      const result = await runTraining(member.config, { ...options, resume, cacheDir });
      // Interrupted: the result names the member's run directory, where its checkpoint is.
      if (result.interrupted) return result;
      trained[index] = result;
      summaries[index] = await finished(index);
    }
  } else {
    // Round-robin over the groups (base seed 0, first group's seed 0, base seed 1, …): members
    // running at once mostly need different views, so a first run does not decode a video twice at once.
    // A member's place in its group is its seed offset.
    const place = members.map((member) => member.config.seed - config.seed);
    const queue = members
      .map((_, index) => index)
      .filter((index) => {
        if (summaries[index]) memberEvent(index, true);
        return summaries[index] === null;
      })
      .sort((a, b) => place[a] - place[b] || a - b);
    const stopAll = new AbortController();
    const onAbort = (): void => stopAll.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const worker = async (): Promise<void> => {
      for (let index = queue.shift(); index !== undefined && !stopAll.signal.aborted; index = queue.shift()) {
        const member = members[index];
        memberEvent(index, false);
        const resume = options.resume === true && (await hasCheckpoint(member.config.output.dir));
        const outcome = await trainInChild(member.config, {
          resume,
          cacheDir,
          signal: stopAll.signal,
          onLine: (line) => options.onEvent?.({ type: 'memberOutput', index, total: n, line }),
        });
        if (outcome === 'interrupted') {
          interrupted ??= index;
          stopAll.abort();
          return;
        }
        summaries[index] = await finished(index);
      }
    };
    const runs = Array.from({ length: Math.min(jobs, queue.length) }, () => worker());
    // A failed member stops the others at their next step (with a checkpoint) before the error is thrown.
    const settled = await Promise.allSettled(runs.map((run) => run.catch((error: unknown) => {
      stopAll.abort();
      throw error;
    })));
    options.signal?.removeEventListener('abort', onAbort);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    if (interrupted !== null || summaries.some((s) => s === null)) {
      const at = members[interrupted ?? summaries.findIndex((s) => s === null)].config;
      return { runDir: at.output.dir, interrupted: true, step: 0, epoch: 0, bundleDir: null, plotFile: null, calibration: null, val: null, test: null, log: [] };
    }
  }
  const results = members.map((member, index) => ({ config: member.config, group: member.group, summary: summaries[index] as MemberSummary, result: trained[index], reused: reusedFlags[index] }));

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
    { memberInfo: results.map((r) => ({ seed: r.config.seed, ...(r.group ? { group: r.group } : {}) })) },
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
        members: results.map((r) => ({ seed: r.config.seed, ...(r.group ? { group: r.group } : {}), dir: r.config.output.dir, val: r.summary.val, test: r.summary.test })),
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
    members: results.map((r) => ({ seed: r.config.seed, ...(r.group ? { group: r.group } : {}), runDir: r.config.output.dir, reused: r.reused })),
  };
}
