import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PairSampler, writeFileAtomic, type PairSamplerOptions, type SampleBatch } from '@vqlm/datasets';
import type { Calibration } from '@vqlm/heads';
import { tf } from '@vqlm/runtime';
import { trainingTexts } from './batch.js';
import { describerFingerprint, hasCheckpoint, loadLatestCheckpoint, restoreCheckpoint, runFingerprint, saveCheckpoint, type TrainState } from './checkpoint.js';
import type { DescriberPhase } from './describer.js';
import { ensembleSize, type TrainConfig } from './config.js';
import { loadEntries, type PreparedData } from './data.js';
import { TrainerError } from './errors.js';
import { trainEnsemble } from './ensemble.js';
import { evalBrief, type EvalResult } from './evaluate.js';
import { createLmmRun, lmmTrainingTexts } from './lmm-run.js';
import { runTokenizer } from './model.js';
import { createCpLlmRun, type RunItem, type RunModel, type RunStep } from './run-model.js';
import { plotRun, type EvalPoint, type StepPoint } from './plot.js';

/** One line of `log.jsonl` for an optimiser step. */
export interface StepRecord extends StepPoint {
  readonly type: 'step';
  /** Wall seconds since the run (or its resume) started. */
  readonly seconds: number;
  /** Learning rate of this step. */
  readonly lr?: number;
  /** `describer` for a step of the describer phase (decoder only); absent in the main phase. */
  readonly phase?: 'describer';
}

/**
 * The learning rate of the step with 0-based index `step` of `totalSteps`: linear warm-up over
 * `warmupSteps` (lr·(step+1)/warmupSteps), then `lr` (`constant`) or `lr · ½(1 + cos(π·t))` with t
 * going from 0 at the first step after warm-up to 1 after the last step (`cosine`). It depends on
 * the step alone, so a resumed run follows the same schedule.
 */
export function learningRateAt(step: number, totalSteps: number, train: Pick<TrainConfig['train'], 'lr' | 'lrSchedule' | 'warmupSteps'>): number {
  const { lr, lrSchedule, warmupSteps } = train;
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (lrSchedule === 'constant') return lr;
  const t = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return lr * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** One line of `log.jsonl` for an evaluation. */
export interface EvalRecord extends EvalPoint {
  readonly type: 'eval';
  readonly split: 'val' | 'test';
  readonly krcc: number | null;
  readonly rmse: number | null;
  readonly n: number;
  readonly flipUnit: 'crf' | 'level';
  readonly descriptions: EvalResult['descriptions'];
}

export type LogRecord = StepRecord | EvalRecord;

/** Events of {@link train}, for progress bars and logs. */
export type TrainEvent =
  | { readonly type: 'prepare'; readonly done: number; readonly total: number; readonly id: string }
  | { readonly type: 'start'; readonly step: number; readonly totalSteps: number; readonly resumed: boolean; readonly items: Readonly<Record<'train' | 'val' | 'test', number>>; readonly failed: number; readonly featuresEncoded: number; readonly featuresCached: number }
  | { readonly type: 'step'; readonly record: StepRecord; readonly totalSteps: number; readonly stepsPerSecond: number; readonly etaSeconds: number }
  | { readonly type: 'eval'; readonly record: EvalRecord }
  | { readonly type: 'checkpoint'; readonly step: number; readonly dir: string }
  /** An ensemble member starts (`reused`: it had finished earlier with the same settings; `group`: its `ensemble.groups` name). */
  | { readonly type: 'member'; readonly index: number; readonly total: number; readonly seed: number; readonly group: string | null; readonly reused: boolean }
  /** A progress line of a member trained in a child process (`jobs` > 1). */
  | { readonly type: 'memberOutput'; readonly index: number; readonly total: number; readonly line: string };

/** Options of {@link train}. */
export interface TrainOptions {
  /** Continue from the run directory's latest checkpoint. */
  readonly resume?: boolean;
  /** Delete the run directory's checkpoints, log and outputs first (the view/feature cache is kept). */
  readonly fresh?: boolean;
  /** Stop at the next step boundary, write a checkpoint, and return `interrupted: true` (SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
  /** Stop like an interrupt after this step (tests, time-boxed runs). */
  readonly stopAfterStep?: number;
  /** Cache of decoded views and frozen features (default `<run>/cache`). */
  readonly cacheDir?: string;
  readonly onEvent?: (event: TrainEvent) => void;
  /** Ensemble members trained at once, each in a child `vqlm-train` process (default 1: one after another, in this process). */
  readonly jobs?: number;
}

/** Result of {@link train}. */
export interface TrainResult {
  readonly runDir: string;
  readonly interrupted: boolean;
  readonly step: number;
  readonly epoch: number;
  /** The trained model bundle (null when interrupted). */
  readonly bundleDir: string | null;
  readonly plotFile: string | null;
  /** The bundle's raw → MOS mapping; null when interrupted, and for LMM-VQA (it scores on 1–5 itself). */
  readonly calibration: Calibration | null;
  /** Final evaluation on the validation and test splits (null when interrupted or the split is empty). */
  readonly val: EvalResult | null;
  readonly test: EvalResult | null;
  readonly log: readonly LogRecord[];
  /** An ensemble's members (`ensemble.members` > 1): seed, run directory, whether reused. */
  readonly members?: readonly { readonly seed: number; readonly group?: string; readonly runDir: string; readonly reused: boolean }[];
}

/** The records of `log.jsonl`; a line cut short by a crash mid-append is skipped. */
async function readLog(file: string): Promise<LogRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const records: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // a partial last line: the checkpoint it would belong to was never written
    }
  }
  return records;
}

function evalRecord(split: 'val' | 'test', epoch: number, step: number, result: EvalResult): EvalRecord {
  return {
    type: 'eval',
    split,
    epoch,
    step,
    n: result.items.length,
    srcc: result.summary?.srcc ?? null,
    plcc: result.summary?.plcc ?? null,
    krcc: result.summary?.krcc ?? null,
    rmse: result.summary?.rmse ?? null,
    flipUnit: result.flipUnit,
    flip: result.flip.map((b) => ({ diff: b.diff, rate: b.rate, pairs: b.pairs })),
    descriptions: result.descriptions,
  };
}

/**
 * The `summary.json` of a finished run of this config in `config.output.dir` (same fingerprint
 * and number of epochs), or null: such a run can be reused instead of trained again.
 */
export async function finishedRunSummary<T = Record<string, unknown>>(config: TrainConfig): Promise<T | null> {
  try {
    const existing = JSON.parse(await readFile(join(config.output.dir, 'summary.json'), 'utf8')) as { fingerprint?: string; epochs?: number; describer?: unknown };
    const sameDescriber = JSON.stringify(existing.describer ?? null) === JSON.stringify(describerSetting(config));
    if (existing.fingerprint === runFingerprint(config) && existing.epochs === config.train.epochs && sameDescriber) return existing as T;
  } catch {
    // none, or unreadable: not finished
  }
  return null;
}

/** Steps of the describer phase of a run (0 for LMM-VQA, whose config refuses it). */
function describerSteps(config: TrainConfig): number {
  return config.model.architecture === 'lmm-vqa' ? 0 : config.describer.steps;
}

/** The describer settings a finished run records in `summary.json` (null: no describer phase). */
function describerSetting(config: TrainConfig): TrainConfig['describer'] | null {
  return describerSteps(config) > 0 ? config.describer : null;
}

/** One optimiser step on `built`'s loss at learning rate `lr`; disposes `built`'s tensors. */
async function optimizerStep(optimizer: tf.Optimizer, vars: tf.Variable[], built: RunStep, lr: number): Promise<{ loss: number; parts: Readonly<Record<string, number>> }> {
  // tfjs's Adam reads its (protected) learning rate at every update.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
  let parts: Readonly<Record<string, number>> = {};
  try {
    const loss = optimizer.minimize(
      () => {
        const result = built.loss();
        parts = result.parts;
        return result.total;
      },
      true,
      vars,
    );
    const value = loss ? (await loss.data())[0] : Number.NaN;
    loss?.dispose();
    return { loss: value, parts };
  } finally {
    tf.dispose(built.tensors);
  }
}

function samplerOptions(config: TrainConfig, trainCount: number): PairSamplerOptions {
  const t = config.train;
  return {
    batchSize: t.batchSize,
    pairRatio: t.pairRatio,
    seed: config.seed,
    epochSize: t.epochSize ?? trainCount,
    ...(t.levelDifference ? { levelDifference: t.levelDifference } : {}),
  };
}

/**
 * Trains CP-LLM by its multi-task recipe as the config says: decodes and caches the views,
 * computes the frozen context features once, then runs Adam over mixed batches of single videos
 * and pairs, evaluating on the validation split every `eval.everyEpochs` epochs, writing
 * `log.jsonl`, atomic checkpoints every `train.checkpointEvery` steps (and on interrupt), and at
 * the end a calibrated model bundle, a plot of the curves and `summary.json`. With
 * `ensemble.members` > 1 (or `ensemble.groups`) it trains that many models with consecutive seeds
 * and bundles them as an ensemble (see `trainEnsemble`). With `model.architecture: 'lmm-vqa'` it
 * trains LMM-VQA the same way on single videos (`createLmmRun`).
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  return ensembleSize(config) > 1 ? trainEnsemble(config, options) : runTraining(config, options);
}

/** {@link train} of one model (`ensemble.members` is ignored). */
export async function runTraining(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const runDir = config.output.dir;
  const logFile = join(runDir, 'log.jsonl');
  if (options.fresh) {
    for (const name of ['checkpoints', 'log.jsonl', 'bundle', 'summary.json', 'curves.svg', 'curves.png']) await rm(join(runDir, name), { recursive: true, force: true });
  }
  const fingerprint = runFingerprint(config);
  const resumable = await hasCheckpoint(runDir);
  if (resumable && !options.resume) {
    throw new TrainerError('E_CHECKPOINT', `${runDir}: has checkpoints of an earlier run; pass --resume to continue it or --fresh to start over`);
  }
  if (options.resume && !resumable) throw new TrainerError('E_CHECKPOINT', `${runDir}: no checkpoint to resume from`);
  await mkdir(runDir, { recursive: true });

  const { entries, root } = await loadEntries(config);
  const lmm = config.model.architecture === 'lmm-vqa';
  const trainSplit = entries.filter((e) => e.split === 'train');
  const tokenizer = await runTokenizer(config, lmm ? lmmTrainingTexts(trainSplit) : trainingTexts(trainSplit));
  const run: RunModel = lmm ? await createLmmRun(config, tokenizer) : await createCpLlmRun(config, tokenizer);
  const optimizer = tf.train.adam(config.train.lr, config.train.beta1, config.train.beta2, config.train.epsilon);
  const describerOptimizer = tf.train.adam(config.describer.lr, config.train.beta1, config.train.beta2, config.train.epsilon);
  try {
    let data: PreparedData<RunItem>;
    try {
      data = await run.prepare(entries, root, {
        cacheDir: options.cacheDir ?? join(runDir, 'cache'),
        signal: options.signal,
        onProgress: (e) => options.onEvent?.({ type: 'prepare', ...e }),
      });
    } catch (error) {
      // Interrupted before the first step: nothing to checkpoint (the views decoded so far are cached).
      if (options.signal?.aborted) return { runDir, interrupted: true, step: 0, epoch: 0, bundleDir: null, plotFile: null, calibration: null, val: null, test: null, log: [] };
      throw error;
    }
    const trainEntries = data.splits.train;
    if (trainEntries.length === 0) throw new TrainerError('E_SPLIT', `data.manifest: no decodable entry in the train split (${data.failed.length} failed)`);
    const itemsOf = (split: 'train' | 'val' | 'test'): RunItem[] => data.splits[split].map((e) => data.items.get(e.id)).filter((i): i is RunItem => i !== undefined);
    const vars = run.vars;
    if (vars.length === 0) throw new TrainerError('E_CONFIG', 'train.freeze: every part is frozen; nothing to train');
    const samplerOpts = samplerOptions(config, trainEntries.length);
    let sampler = new PairSampler(trainEntries, samplerOpts);
    let step = 0;
    let epoch = 0;
    let evaluatedEpochs = 0;
    let log: LogRecord[] = [];
    if (options.resume) {
      const checkpoint = await loadLatestCheckpoint(runDir, fingerprint);
      const inDescriber = checkpoint.state.phase === 'describer';
      if (inDescriber && checkpoint.state.describer !== describerFingerprint(config)) {
        throw new TrainerError('E_CHECKPOINT', `${checkpoint.dir}: written in a describer phase with other describer settings; only describer.steps may change on --resume`);
      }
      await restoreCheckpoint(checkpoint, vars, inDescriber ? describerOptimizer : optimizer);
      sampler = PairSampler.resume(trainEntries, samplerOpts, checkpoint.state.sampler);
      ({ step, epoch, evaluatedEpochs } = checkpoint.state);
      log = (await readLog(logFile)).filter((r) => (r.type === 'step' ? r.step <= step : r.epoch <= evaluatedEpochs && r.step <= step));
    }
    await writeFileAtomic(logFile, log.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const batchesPerEpoch = sampler.batchesPerEpoch;
    // Steps of the main phase; the describer phase's follow.
    const totalSteps = batchesPerEpoch * config.train.epochs;
    const allSteps = totalSteps + describerSteps(config);
    options.onEvent?.({
      type: 'start',
      step,
      totalSteps: allSteps,
      resumed: options.resume === true,
      items: { train: trainEntries.length, val: data.splits.val.length, test: data.splits.test.length },
      failed: data.failed.length,
      featuresEncoded: data.featureStats.encoded,
      featuresCached: data.featureStats.cached,
    });

    // Appended, not rewritten: the file was made consistent with the checkpoint above.
    const appendLog = async (records: LogRecord[]): Promise<void> => {
      if (records.length === 0) return;
      log.push(...records);
      await appendFile(logFile, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    };
    // A checkpoint after the main phase's last step holds the describer phase's optimiser state.
    const pastMainPhase = (): boolean => step > totalSteps;
    const state = (): TrainState => ({
      version: 1,
      fingerprint,
      step,
      epoch,
      sampler: sampler.state(),
      evaluatedEpochs,
      ...(pastMainPhase() ? { phase: 'describer' as const, describer: describerFingerprint(config) } : {}),
      savedAt: new Date().toISOString(),
    });
    const checkpoint = async (): Promise<void> => {
      const dir = await saveCheckpoint(runDir, vars, pastMainPhase() ? describerOptimizer : optimizer, state(), config.train.keepCheckpoints);
      options.onEvent?.({ type: 'checkpoint', step, dir });
    };
    const lastVal: { step: number; result: EvalResult | null } = { step: -1, result: null };
    const evaluate = async (split: 'val' | 'test', atEpoch: number): Promise<EvalResult | null> => {
      const items = itemsOf(split);
      if (items.length === 0) return null;
      const result = await run.evaluate(items, { flipDiffs: config.eval.flipDiffs, descriptions: config.eval.descriptions });
      const record = evalRecord(split, atEpoch, step, result);
      options.onEvent?.({ type: 'eval', record });
      await appendLog([record]);
      if (split === 'val') Object.assign(lastVal, { step, result });
      return result;
    };

    const started = performance.now();
    const startStep = step;
    let pending: StepRecord[] = [];
    let describer: DescriberPhase | null = null;
    while (step < allSteps) {
      // The main phase (mixed batches, every part), then the describer phase (decoder only).
      const describing = step >= totalSteps;
      let sample: SampleBatch | null = null;
      let built: RunStep;
      if (describing) {
        describer ??= await run.describer!(itemsOf('train'));
        built = describer.step(step - totalSteps);
      } else {
        sample = sampler.next();
        built = run.step(data.items, sample);
      }
      const lr = describing ? config.describer.lr : learningRateAt(step, totalSteps, config.train);
      const { loss: lossValue, parts } = await optimizerStep(describing ? describerOptimizer : optimizer, describing ? describer!.vars : vars, built, lr);
      if (!Number.isFinite(lossValue)) {
        const setting = describing ? `describer.lr (now ${config.describer.lr})` : `train.lr (now ${config.train.lr})`;
        throw new TrainerError('E_CONFIG', `step ${step + 1}: the loss is ${lossValue}; lower ${setting} or check the data`);
      }
      step++;
      // Let signal handlers run: tfjs's awaits resolve as microtasks, so without a macrotask turn
      // a SIGINT/SIGTERM would be seen only at the next write to disk (eval or checkpoint).
      await new Promise<void>((resolve) => setImmediate(resolve));
      const record: StepRecord = { type: 'step', step, epoch: sample ? sample.epoch : epoch, loss: lossValue, parts, seconds: (performance.now() - started) / 1000, lr, ...(describing ? { phase: 'describer' as const } : {}) };
      pending.push(record);
      const elapsed = (performance.now() - started) / 1000;
      const rate = (step - startStep) / Math.max(elapsed, 1e-9);
      options.onEvent?.({ type: 'step', record, totalSteps: allSteps, stepsPerSecond: rate, etaSeconds: (allSteps - step) / Math.max(rate, 1e-9) });
      const interrupted = options.signal?.aborted === true || (options.stopAfterStep !== undefined && step >= options.stopAfterStep);
      if (sample) {
        const endOfEpoch = sample.index === batchesPerEpoch - 1;
        if (endOfEpoch) epoch = sample.epoch + 1;
        if (endOfEpoch && (epoch % config.eval.everyEpochs === 0 || step === totalSteps)) {
          await appendLog(pending);
          pending = [];
          await evaluate('val', epoch);
          evaluatedEpochs = epoch;
        }
      }
      if (step % config.train.checkpointEvery === 0 || interrupted || step === totalSteps || step === allSteps) {
        await appendLog(pending);
        pending = [];
        await checkpoint();
      }
      if (interrupted && step < allSteps) {
        return { runDir, interrupted: true, step, epoch, bundleDir: null, plotFile: null, calibration: null, val: null, test: null, log };
      }
    }
    describer?.dispose();
    await appendLog(pending);

    // Final: last evaluation (if not already done at this step), test split, calibration, bundle, plot, summary.
    // The last epoch's validation is reused; a run resumed after its last step was evaluated
    // re-scores it without logging it twice.
    const loggedVal = log.some((r) => r.type === 'eval' && r.split === 'val' && r.step === step);
    const val =
      lastVal.result !== null && lastVal.step === step
        ? lastVal.result
        : loggedVal
          ? await run.evaluate(itemsOf('val'), { flipDiffs: config.eval.flipDiffs, descriptions: 0 })
          : await evaluate('val', epoch);
    const test = await evaluate('test', epoch);
    const calibration = await run.calibrate(itemsOf('train'));
    const bundleDir = join(runDir, 'bundle');
    await run.save(bundleDir, calibration);
    const plotFile = join(runDir, `curves.${config.output.plot}`);
    await plotRun(
      {
        title: config.name,
        steps: log.filter((r): r is StepRecord => r.type === 'step'),
        evals: log.filter((r): r is EvalRecord => r.type === 'eval' && r.split === 'val'),
      },
      plotFile,
    );
    await writeFileAtomic(
      join(runDir, 'summary.json'),
      `${JSON.stringify({ name: config.name, seed: config.seed, fingerprint, steps: step, epochs: epoch, describer: describerSetting(config), failed: data.failed, calibration, val: evalBrief(val), test: evalBrief(test), valItems: val?.items ?? [], testItems: test?.items ?? [] }, null, 2)}\n`,
    );
    return { runDir, interrupted: false, step, epoch, bundleDir, plotFile, calibration, val, test, log };
  } finally {
    optimizer.dispose();
    describerOptimizer.dispose();
    await run.dispose();
  }
}
