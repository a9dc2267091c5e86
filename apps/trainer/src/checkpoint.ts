import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, type PairSamplerState } from '@vqlm/datasets';
import { openSafetensors, tf, writeSafetensors } from '@vqlm/runtime';
import type { TrainConfig } from './config.js';
import { TrainerError } from './errors.js';

/** Everything besides tensors that a resumed run needs. */
export interface TrainState {
  readonly version: 1;
  /** Hash of the settings that must not change across a resume (see {@link runFingerprint}). */
  readonly fingerprint: string;
  /** Optimiser steps taken. */
  readonly step: number;
  /** Epochs completed. */
  readonly epoch: number;
  /** Position of the pair sampler (the next batch). */
  readonly sampler: PairSamplerState;
  /** Epochs already evaluated. */
  readonly evaluatedEpochs: number;
  /** `describer` when written during the describer phase (its optimiser state is the phase's). */
  readonly phase?: 'describer';
  /** {@link describerFingerprint} of the settings of that phase. */
  readonly describer?: string;
  readonly savedAt: string;
}

/** A checkpoint read back. */
export interface LoadedCheckpoint {
  readonly dir: string;
  readonly state: TrainState;
  /** Trained variables in the run's fixed order. */
  readonly variables: Float32Array[];
  readonly variableShapes: number[][];
  /** Optimiser state in `optimizer.getWeights()` order. */
  readonly optimizer: tf.Tensor[];
}

const CHECKPOINTS = 'checkpoints';
const LATEST = 'latest.json';

/**
 * Hash of what a resume must not change: seed, data, model and training settings except the
 * number of epochs and checkpoint cadence (a run may be extended).
 */
export function runFingerprint(config: TrainConfig): string {
  const { epochs: _epochs, checkpointEvery: _every, keepCheckpoints: _keep, ...train } = config.train;
  return shortHash({ seed: config.seed, data: config.data, model: config.model, train });
}

/** Hash of the describer phase's settings that must not change across a resume inside the phase (all but `steps`). */
export function describerFingerprint(config: TrainConfig): string {
  const { steps: _steps, ...describer } = config.describer;
  return shortHash(describer);
}

/** First 16 hex digits of the SHA-256 of a value's JSON. */
function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

const pad = (n: number): string => String(n).padStart(3, '0');

/**
 * Writes a checkpoint atomically: the files go to a temporary directory that is renamed to
 * `checkpoints/step-<n>` when complete, then `checkpoints/latest.json` is replaced (rename) to
 * point at it. A crash at any moment leaves the previous checkpoint as the latest. Keeps the
 * newest `keep` checkpoints.
 */
export async function saveCheckpoint(runDir: string, variables: readonly tf.Variable[], optimizer: tf.Optimizer, state: TrainState, keep: number): Promise<string> {
  const root = join(runDir, CHECKPOINTS);
  await mkdir(root, { recursive: true });
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  const final = join(root, name);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const weights: Record<string, tf.Tensor> = {};
    variables.forEach((v, i) => {
      weights[`v${pad(i)}`] = v;
    });
    await writeSafetensors(join(tmp, 'weights.safetensors'), weights, { metadata: { names: JSON.stringify(variables.map((v) => v.name)) } });
    const optimizerWeights = await optimizer.getWeights();
    const opt: Record<string, tf.Tensor> = {};
    optimizerWeights.forEach((w, i) => {
      opt[`o${pad(i)}`] = w.tensor;
    });
    if (optimizerWeights.length > 0) await writeSafetensors(join(tmp, 'optimizer.safetensors'), opt);
    await writeFileAtomic(join(tmp, 'state.json'), `${JSON.stringify({ ...state, optimizerTensors: optimizerWeights.length }, null, 2)}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw new TrainerError('E_CHECKPOINT', `${final}: cannot write the checkpoint (${(error as Error).message})`, { cause: error });
  }
  await writeFileAtomic(join(root, LATEST), `${JSON.stringify({ checkpoint: name, step: state.step })}\n`);
  // Keep the newest `keep` checkpoints up to this one. Checkpoints of later steps belong to an
  // abandoned timeline (a run resumed from an earlier step, or stale files): remove them too.
  const all = (await readdir(root)).filter((n) => /^step-\d+$/.test(n)).sort();
  const upToNow = all.filter((n) => n <= name);
  const stale = [...upToNow.slice(0, Math.max(0, upToNow.length - keep)), ...all.filter((n) => n > name)];
  for (const old of stale) await rm(join(root, old), { recursive: true, force: true });
  return final;
}

/** Whether a run directory has a checkpoint to resume from. */
export async function hasCheckpoint(runDir: string): Promise<boolean> {
  try {
    await readFile(join(runDir, CHECKPOINTS, LATEST), 'utf8');
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the latest checkpoint of a run.
 * @throws TrainerError `E_CHECKPOINT` when there is none, it is damaged, or it came from a run with other settings.
 */
export async function loadLatestCheckpoint(runDir: string, fingerprint: string): Promise<LoadedCheckpoint> {
  const root = join(runDir, CHECKPOINTS);
  let name: string;
  try {
    name = (JSON.parse(await readFile(join(root, LATEST), 'utf8')) as { checkpoint: string }).checkpoint;
  } catch (error) {
    throw new TrainerError('E_CHECKPOINT', `${join(root, LATEST)}: no checkpoint to resume from (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const dir = join(root, name);
  let state: TrainState & { optimizerTensors: number };
  try {
    state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as TrainState & { optimizerTensors: number };
  } catch (error) {
    throw new TrainerError('E_CHECKPOINT', `${join(dir, 'state.json')}: unreadable (${(error as Error).message})`);
  }
  if (state.version !== 1) throw new TrainerError('E_CHECKPOINT', `${dir}: unknown checkpoint version ${String(state.version)}`);
  if (state.fingerprint !== fingerprint) {
    throw new TrainerError('E_CHECKPOINT', `${dir}: written by a run with other settings (fingerprint ${state.fingerprint}, this config ${fingerprint}); only epochs and checkpoint cadence may change on --resume`);
  }
  const variables: Float32Array[] = [];
  const variableShapes: number[][] = [];
  const optimizer: tf.Tensor[] = [];
  try {
    const weights = await openSafetensors(join(dir, 'weights.safetensors'));
    try {
      for (const n of weights.names) {
        variables.push(await weights.read(n));
        variableShapes.push([...weights.info(n).shape]);
      }
    } finally {
      await weights.close();
    }
    if (state.optimizerTensors > 0) {
      const opt = await openSafetensors(join(dir, 'optimizer.safetensors'));
      try {
        for (const n of opt.names) optimizer.push(await opt.tensor(n));
      } finally {
        await opt.close();
      }
    }
  } catch (error) {
    tf.dispose(optimizer);
    throw new TrainerError('E_CHECKPOINT', `${dir}: damaged (${(error as Error).message})`, { cause: error });
  }
  return { dir, state, variables, variableShapes, optimizer };
}

/**
 * Puts a checkpoint's values into the run's variables and optimiser.
 * @throws TrainerError `E_CHECKPOINT` when the variables do not match (count or shape).
 */
export async function restoreCheckpoint(checkpoint: LoadedCheckpoint, variables: readonly tf.Variable[], optimizer: tf.Optimizer): Promise<void> {
  if (checkpoint.variables.length !== variables.length) {
    throw new TrainerError('E_CHECKPOINT', `${checkpoint.dir}: has ${checkpoint.variables.length} trained variables, the model has ${variables.length}`);
  }
  variables.forEach((v, i) => {
    const shape = checkpoint.variableShapes[i];
    if (shape.length !== v.shape.length || shape.some((n, j) => n !== v.shape[j])) {
      throw new TrainerError('E_CHECKPOINT', `${checkpoint.dir}: variable ${i} (${v.name}) has shape [${shape.join(', ')}], the model has [${v.shape.join(', ')}]`);
    }
    tf.tidy(() => v.assign(tf.tensor(checkpoint.variables[i], v.shape, 'float32')));
  });
  if (checkpoint.optimizer.length > 0) {
    await optimizer.setWeights(checkpoint.optimizer.map((tensor, i) => ({ name: `o${pad(i)}`, tensor })));
  }
  tf.dispose(checkpoint.optimizer);
}
