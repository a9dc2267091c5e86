import type { ManifestEntry, SampleBatch } from '@vqlm/datasets';
import type { TokenizerFiles } from '@vqlm/decoder-lora';
import { IDENTITY_CALIBRATION, type Calibration } from '@vqlm/heads';
import { cpLlmObjective, saveBundle, type CpLlm } from '@vqlm/models';
import type { tf } from '@vqlm/runtime';
import { buildBatch, scoreTarget } from './batch.js';
import { chooseCalibration } from './calibration.js';
import type { TrainConfig } from './config.js';
import { prepareData, type PreparedData, type PreparedItem, type PrepareOptions } from './data.js';
import { evaluateSplit, scoreItems, type EvalResult } from './evaluate.js';
import { createDescriberPhase, type DescriberPhase } from './describer.js';
import { createRunModel, describerVariables, trainedVariables } from './model.js';

/** What every prepared item has. */
export interface RunItem {
  readonly entry: ManifestEntry;
}

/** The loss of one step: call `loss` inside `optimizer.minimize`, then dispose `tensors`. */
export interface RunStep {
  readonly loss: () => { readonly total: tf.Scalar; readonly parts: Readonly<Record<string, number>> };
  readonly tensors: tf.Tensor[];
}

/**
 * One architecture's side of a training run (`runTraining` does the rest: sampler, Adam, log,
 * checkpoints, evaluation schedule, plot, summary): its model, data, batches, evaluation and bundle.
 */
export interface RunModel<Item extends RunItem = RunItem> {
  readonly architecture: 'cp-llm' | 'lmm-vqa';
  /** The variables the optimiser updates, in a fixed order (checkpoints store them by position). */
  readonly vars: tf.Variable[];
  prepare(entries: readonly ManifestEntry[], root: string, options: PrepareOptions): Promise<PreparedData<Item>>;
  step(items: ReadonlyMap<string, Item>, sample: SampleBatch): RunStep;
  evaluate(items: readonly Item[], options: { readonly flipDiffs: readonly number[]; readonly descriptions: number }): Promise<EvalResult>;
  /** The raw → MOS mapping fitted on the training items; null when the model scores on 1–5 itself. */
  calibrate(items: readonly Item[]): Promise<Calibration | null>;
  save(dir: string, calibration: Calibration | null): Promise<void>;
  /** Sets up the describer phase on the training items (CP-LLM; `describer.steps` > 0). */
  describer?(items: readonly Item[]): Promise<DescriberPhase>;
  dispose(): Promise<void>;
}

/** CP-LLM's {@link RunModel}: cached views and frozen features, mixed single/pair batches, a calibrated bundle. */
export async function createCpLlmRun(config: TrainConfig, tokenizer: TokenizerFiles): Promise<RunModel<PreparedItem>> {
  const model: CpLlm = await createRunModel(config, tokenizer);
  const weights = config.train.lossWeights;
  return {
    architecture: 'cp-llm',
    vars: trainedVariables(model, config),
    prepare: (entries, root, options) => prepareData(entries, root, model, options),
    step(items, sample) {
      const built = buildBatch(model, items, sample, config.seed);
      return {
        loss: () => cpLlmObjective(model, built.batch, { weights: { mse: weights.mse, rank: weights.rank, ce: weights.ce }, rankMargin: config.train.rankMargin }),
        tensors: built.tensors,
      };
    },
    evaluate: (items, options) => evaluateSplit(model, items, options),
    async calibrate(items) {
      const withTarget = items.filter((i) => scoreTarget(i.entry) !== null);
      if (withTarget.length < 4) return IDENTITY_CALIBRATION;
      const raw = await scoreItems(model, withTarget);
      return chooseCalibration(
        raw,
        withTarget.map((i) => scoreTarget(i.entry) ?? 0),
      );
    },
    save: (dir, calibration) => saveBundle(model, dir, { calibration: calibration ?? IDENTITY_CALIBRATION, onnx: config.output.onnx }),
    describer: (items) => createDescriberPhase(model, items, config, describerVariables(model, config)),
    dispose: () => model.dispose(),
  };
}
