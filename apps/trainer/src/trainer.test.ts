import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_CALIBRATION, applyCalibration } from '@vqlm/heads';
import { createScorer, loadBundle } from '@vqlm/models';
import { tf } from '@vqlm/runtime';
import { parseTrainConfig, type TrainConfig } from './config.js';
import { TrainerError } from './errors.js';
import { chooseCalibration, MAX_SATURATED_SHARE } from './calibration.js';
import { learningRateAt, train, type LogRecord, type StepRecord, type TrainEvent } from './trainer.js';
import { microConfig, useTinyCorpus } from './__fixtures__/corpus.js';

let dir: string;
let manifest: string;

useTinyCorpus('train', (d, m) => {
  dir = d;
  manifest = m;
});

function config(out: string, overrides: Parameters<typeof microConfig>[2] = {}): TrainConfig {
  return parseTrainConfig(microConfig(manifest, join(dir, out), overrides));
}

const steps = (log: readonly LogRecord[]): StepRecord[] => log.filter((r): r is StepRecord => r.type === 'step');

async function countFiles(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).length;
}

describe('learningRateAt', () => {
  const lr = 0.01;
  it('constant: lr after warm-up; warm-up rises linearly to lr', () => {
    expect([0, 5, 99].map((step) => learningRateAt(step, 100, { lr, lrSchedule: 'constant', warmupSteps: 0 }))).toEqual([lr, lr, lr]);
    expect([0, 1, 3, 4].map((step) => learningRateAt(step, 100, { lr, lrSchedule: 'constant', warmupSteps: 4 }))).toEqual([lr / 4, lr / 2, lr, lr]);
  });
  it('cosine: lr at the first step after warm-up, half way at the middle, near 0 at the end', () => {
    const at = (step: number): number => learningRateAt(step, 110, { lr, lrSchedule: 'cosine', warmupSteps: 10 });
    expect(at(9)).toBeCloseTo(lr, 12);
    expect(at(10)).toBeCloseTo(lr, 12);
    expect(at(60)).toBeCloseTo(lr / 2, 12);
    expect(at(109)).toBeCloseTo(lr * 0.5 * (1 + Math.cos(Math.PI * 0.99)), 12);
    expect(at(109)).toBeLessThan(lr * 0.001);
    for (let step = 11; step < 110; step++) expect(at(step)).toBeLessThan(at(step - 1));
  });
});

describe('chooseCalibration', () => {
  it('keeps a logistic that follows the scores, and falls back to linear for a near-step one', () => {
    const raw = Array.from({ length: 40 }, (_, i) => i / 39);
    const smooth = raw.map((r) => 1 + 4 / (1 + Math.exp(-(r - 0.5) / 0.15)));
    expect(chooseCalibration(raw, smooth).kind).toBe('logistic4');
    // Two clusters of raw scores; within each the MOS falls as the raw score rises. The
    // least-squares logistic is a step between the clusters and would give every video of a
    // cluster the same score; the linear fit keeps their order.
    const clustered = raw.map((_, i) => (i < 20 ? 0.2 + i * 1e-3 : 0.8 + i * 1e-3));
    const mos = raw.map((_, i) => (i < 20 ? 2.5 : 5) - (i % 20) * 0.05);
    const chosen = chooseCalibration(clustered, mos);
    expect(chosen.kind).toBe('linear');
    const calibrated = clustered.map((r) => applyCalibration(chosen, r));
    expect(new Set(calibrated).size).toBe(40);
    expect(MAX_SATURATED_SHARE).toBe(0.1);
    expect(chooseCalibration([1, 2, 3], [1, 2, 3])).toEqual(IDENTITY_CALIBRATION);
  });
});

describe('train', () => {
  let full: Awaited<ReturnType<typeof train>>;
  const events: TrainEvent[] = [];
  const cacheDir = () => join(dir, 'cache');

  beforeAll(async () => {
    full = await train(config('full', { train: { epochs: 6 } }), { cacheDir: cacheDir(), onEvent: (e) => events.push(e) });
  }, 180_000);

  it('trains every part: each loss part falls', () => {
    const log = steps(full.log);
    expect(log).toHaveLength(12); // 6 train videos, batch 4 → 2 steps per epoch
    const mean = (records: StepRecord[], part: string): number => records.reduce((s, r) => s + (r.parts[part] ?? 0), 0) / records.length;
    const early = log.slice(0, 3);
    const late = log.slice(-3);
    for (const part of ['mse', 'ce']) expect(mean(late, part), part).toBeLessThan(mean(early, part));
    expect(log.some((r) => r.parts.rank !== undefined)).toBe(true);
    expect(mean(late, 'rank')).toBeLessThanOrEqual(mean(early, 'rank') + 1e-6);
  });

  it('computes the frozen context features once per frame, before the first step', async () => {
    const start = events.find((e): e is Extract<TrainEvent, { type: 'start' }> => e.type === 'start');
    // 9 videos × M = 2 key frames, all encoded once, none from the cache on the first run.
    expect(start).toMatchObject({ featuresEncoded: 18, featuresCached: 0, items: { train: 6, val: 3, test: 0 } });
    expect(await countFiles(join(cacheDir(), 'features'))).toBe(18);
  });

  it('evaluates on the validation split every epoch and logs SRCC, PLCC, flip rate and descriptions', async () => {
    const evals = full.log.filter((r) => r.type === 'eval');
    expect(evals.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    const last = evals.at(-1);
    expect(last).toMatchObject({ split: 'val', n: 3, flipUnit: 'crf' });
    expect(last?.type === 'eval' && last.flip.map((b) => [b.diff, b.pairs])).toEqual([
      [12, 2],
      [24, 1],
    ]);
    expect(typeof (last?.type === 'eval' ? last.srcc : null)).toBe('number');
    expect(last?.type === 'eval' && last.descriptions).toHaveLength(1);
    const lines = (await readFile(join(full.runDir, 'log.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as LogRecord)).toEqual(full.log);
  });

  it('writes a calibrated bundle that scores like the trained model, a plot and a summary', async () => {
    expect(full.bundleDir).not.toBeNull();
    const bundle = await loadBundle(full.bundleDir ?? '');
    expect(bundle.calibration).toEqual(full.calibration);
    await bundle.model.dispose();
    const scorer = await createScorer(full.bundleDir ?? '');
    const result = await scorer.score(join(dir, 'plane', 'plane.h264-crf18.mp4'));
    await scorer.dispose();
    expect(result.score).toBeGreaterThanOrEqual(1);
    expect(result.score).toBeLessThanOrEqual(5);
    expect(await readFile(full.plotFile ?? '', 'utf8')).toMatch(/^<svg/);
    const summary = JSON.parse(await readFile(join(full.runDir, 'summary.json'), 'utf8')) as { steps: number; val: { n: number } };
    expect(summary).toMatchObject({ steps: 12, val: { n: 3 } });
  });

  it('returns interrupted, not an error, when stopped while preparing the data (no step, no checkpoint)', async () => {
    const cfg = config('stopped-early');
    const controller = new AbortController();
    controller.abort();
    const result = await train(cfg, { cacheDir: cacheDir(), signal: controller.signal });
    expect(result).toMatchObject({ interrupted: true, step: 0, bundleDir: null });
    await expect(readdir(join(result.runDir, 'checkpoints'))).rejects.toThrow(/ENOENT/);
  });

  it('resumes an interrupted run at the same step, sampler position and optimizer state: identical loss curve', async () => {
    const cfg = config('resumed', { train: { epochs: 6 } });
    const first = await train(cfg, { cacheDir: cacheDir(), stopAfterStep: 5 });
    expect(first).toMatchObject({ interrupted: true, step: 5, bundleDir: null });
    const checkpoints = await readdir(join(first.runDir, 'checkpoints'));
    expect(checkpoints).toContain('step-00000005');
    expect(checkpoints.some((n) => n.startsWith('.tmp'))).toBe(false);
    await expect(train(cfg, { cacheDir: cacheDir() })).rejects.toThrow(/pass --resume to continue it or --fresh/);
    const resumeEvents: TrainEvent[] = [];
    const second = await train(cfg, { cacheDir: cacheDir(), resume: true, onEvent: (e) => resumeEvents.push(e) });
    expect(second.interrupted).toBe(false);
    // The second run read every feature from the cache.
    expect(resumeEvents.find((e) => e.type === 'start')).toMatchObject({ step: 5, resumed: true, featuresEncoded: 0, featuresCached: 18 });
    const a = steps(full.log);
    const b = steps(second.log);
    expect(b.map((r) => r.step)).toEqual(a.map((r) => r.step));
    // Equal up to float32 rounding: Adam's bias-correction terms are rebuilt as β^(t+1) on resume
    // rather than multiplied up step by step, which moves the last bits (about 1e-6 relative).
    const close = (got: number, want: number, what: string): void => {
      expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    };
    b.forEach((r, i) => {
      expect(r.epoch).toBe(a[i].epoch);
      close(r.loss, a[i].loss, `step ${r.step} loss`);
      for (const [part, value] of Object.entries(a[i].parts)) close(r.parts[part] ?? Number.NaN, value, `step ${r.step} ${part}`);
      if (r.step <= 5) expect(r.loss, 'steps before the interrupt are the same run').toBe(a[i].loss);
    });
    const finalEval = (log: readonly LogRecord[]) => log.filter((r) => r.type === 'eval').at(-1);
    close((finalEval(second.log) as { srcc: number }).srcc, (finalEval(full.log) as { srcc: number }).srcc, 'final SRCC');
  }, 180_000);

  it('follows a cosine schedule with warm-up, also across an interrupt and resume', async () => {
    const cfg = config('cosine', { train: { epochs: 6, lrSchedule: 'cosine', warmupSteps: 2 } });
    const first = await train(cfg, { cacheDir: cacheDir(), stopAfterStep: 4 });
    expect(first.step).toBe(4);
    const second = await train(cfg, { cacheDir: cacheDir(), resume: true });
    const records = steps(second.log);
    const total = records.length;
    expect(total).toBe(steps(full.log).length);
    records.forEach((r) => expect(r.lr).toBeCloseTo(learningRateAt(r.step - 1, total, cfg.train), 12));
    expect(records[0].lr).toBeCloseTo(cfg.train.lr / 2, 12);
    expect(records.at(-1)!.lr!).toBeLessThan(cfg.train.lr * 0.1);
    // The first loss is computed before any update, so it equals the constant-rate run's; the
    // second follows a half-size first step, so it differs.
    expect(records[0].loss).toBe(steps(full.log)[0].loss);
    expect(records[1].loss).not.toBe(steps(full.log)[1].loss);
  }, 180_000);

  it('refuses to resume a checkpoint written with other settings, naming the difference', async () => {
    const changed = config('resumed', { train: { epochs: 6, lr: 0.02 } });
    await expect(train(changed, { cacheDir: cacheDir(), resume: true })).rejects.toThrow(/other settings .*only epochs and checkpoint cadence may change/);
  });
});

describe('train: bad input', () => {
  it('reports a video that cannot be decoded and trains on the rest', async () => {
    const broken = join(dir, 'broken.jsonl');
    const text = await readFile(manifest, 'utf8');
    await writeFile(join(dir, 'garbage.mp4'), 'not a video at all');
    const bad = JSON.stringify({ id: 'garbage', path: 'garbage.mp4', sourceId: 'plane', split: 'train', variant: { level: 4, recipe: { kind: 'h264', crf: 51 } }, pseudoMos: { method: 'vmaf-anchored', value: 1.2 } });
    await writeFile(broken, `${text}${bad}\n`);
    const cfg = parseTrainConfig({ ...microConfig(broken, join(dir, 'broken-run')), train: { epochs: 1, batchSize: 4, lr: 0.01 } });
    const events: TrainEvent[] = [];
    const result = await train(cfg, { cacheDir: join(dir, 'cache'), onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'start')).toMatchObject({ failed: 1, items: { train: 6 } });
    const summary = JSON.parse(await readFile(join(result.runDir, 'summary.json'), 'utf8')) as { failed: { id: string; reason: string }[] };
    expect(summary.failed).toHaveLength(1);
    expect(summary.failed[0].id).toBe('garbage');
    expect(tf.memory().numTensors).toBeLessThan(10_000);
  }, 120_000);

  it('names a manifest that does not exist', async () => {
    const cfg = parseTrainConfig(microConfig(join(dir, 'nope.jsonl'), join(dir, 'nope-run')));
    await expect(train(cfg)).rejects.toBeInstanceOf(TrainerError);
    await expect(train(cfg)).rejects.toThrow(/data.manifest: .*nope.jsonl/);
  });

  it('refuses a config where every part is frozen', async () => {
    const cfg = config('frozen', { train: { freeze: { contextProjector: true, pixelEncoder: true, head: true, lora: true, decoderBase: true } } });
    await expect(train(cfg, { cacheDir: join(dir, 'cache') })).rejects.toThrow(/every part is frozen/);
  });
});
