import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createScorer, loadLmmVqaBundle, type LmmVqa } from '@vqlm/models';
import { ViT, exportVitToOnnx } from '@vqlm/encoders';
import { parseTrainConfig } from './config.js';
import { lmmTargetText } from './lmm-run.js';
import { lmmModelConfig } from './model.js';
import { train, type LogRecord, type StepRecord, type TrainEvent } from './trainer.js';
import { microConfig, microLmmConfig, useTinyCorpus } from './__fixtures__/corpus.js';

let dir: string;
let manifest: string;

useTinyCorpus('lmm', (d, m) => {
  dir = d;
  manifest = m;
});

const steps = (log: readonly LogRecord[]): StepRecord[] => log.filter((r): r is StepRecord => r.type === 'step');

describe('LMM-VQA config', () => {
  it('fills in single videos, the level weight and the lmm parts; CP-LLM configs are unchanged', () => {
    const config = parseTrainConfig(microLmmConfig(manifest, join(dir, 'x')));
    expect(config.model.architecture).toBe('lmm-vqa');
    expect(config.train.pairRatio).toBe(0);
    expect(config.train.lossWeights).toEqual({ mse: 1, rank: 1, ce: 1, level: 1 });
    expect(config.model.lmm?.temporal.numFrames).toBe(4);
    const defaults = parseTrainConfig({ data: { manifest: 'm.jsonl' }, model: { architecture: 'lmm-vqa' } });
    expect(defaults.model.lmm).toEqual({ spatialVit: { preset: 'base' }, temporal: {}, views: 'resized' });
    // model.lmm.views reaches the model config (and so the bundle and the scorer's sampling).
    const native = microLmmConfig(manifest, join(dir, 'x'));
    const nativeModel = native.model as { lmm: object };
    expect(lmmModelConfig(parseTrainConfig({ ...native, model: { ...nativeModel, lmm: { ...nativeModel.lmm, views: 'native' } } })).views).toBe('native');
    expect(lmmModelConfig(config).views).toBe('resized');
    const cp = parseTrainConfig(microConfig(manifest, join(dir, 'y')));
    expect('architecture' in cp.model || 'lmm' in cp.model || 'level' in cp.train.lossWeights).toBe(false);
  });

  it('refuses what LMM-VQA does not have, naming the field', () => {
    const lmm = (patch: (c: ReturnType<typeof microLmmConfig>) => object) => () => parseTrainConfig(patch(microLmmConfig(manifest, join(dir, 'x'))));
    expect(lmm((c) => ({ ...c, train: { ...c.train, pairRatio: 0.5 } }))).toThrow(/config.train.pairRatio: LMM-VQA trains on single videos; leave it out or set 0 \(model.architecture is 'lmm-vqa'\)/);
    expect(lmm((c) => ({ ...c, model: { ...c.model, branches: 'pixel' } }))).toThrow(/config.model.branches: the context \/ pixel branches are CP-LLM's/);
    expect(lmm((c) => ({ ...c, ensemble: { members: 3 } }))).toThrow(/config.ensemble: ensembles are CP-LLM only/);
    expect(lmm((c) => ({ ...c, model: { ...c.model, lmm: { spatialVit: { preset: 'huge' } } } }))).toThrow(/config.model.lmm.spatialVit.preset: unknown ViT preset "huge"/);
    expect(lmm((c) => ({ ...c, model: { ...c.model, lmm: { views: 'crop' } } }))).toThrow(/config.model.lmm.views/);
    const cp = microConfig(manifest, join(dir, 'y'));
    expect(() => parseTrainConfig({ ...cp, model: { ...cp.model, lmm: {} } })).toThrow(/config.model.lmm: only for model.architecture 'lmm-vqa'/);
    expect(() => parseTrainConfig({ ...cp, train: { ...cp.train, lossWeights: { level: 2 } } })).toThrow(/config.train.lossWeights.level: only for model.architecture 'lmm-vqa'/);
  });
});

describe('train: LMM-VQA', () => {
  let full: Awaited<ReturnType<typeof train>>;
  const events: TrainEvent[] = [];
  const cacheDir = () => join(dir, 'cache');

  beforeAll(async () => {
    const fullConfig = microLmmConfig(manifest, join(dir, 'full'), { train: { epochs: 6 } });
    // With the ONNX exports (the default; the fixtures turn them off for speed).
    full = await train(parseTrainConfig({ ...fullConfig, output: { ...(fullConfig.output as object), onnx: true } }), { cacheDir: cacheDir(), onEvent: (e) => events.push(e) });
  }, 180_000);

  it('trains on the answer, the level and the level score: each part falls', () => {
    const log = steps(full.log);
    expect(log).toHaveLength(12); // 6 train videos, batch 4 → 2 steps per epoch, single videos only
    expect(Object.keys(log[0].parts).sort()).toEqual(['ce', 'level', 'mse']);
    const mean = (records: StepRecord[], part: string): number => records.reduce((s, r) => s + (r.parts[part] ?? 0), 0) / records.length;
    for (const part of ['ce', 'level', 'mse']) expect(mean(log.slice(-3), part), part).toBeLessThan(mean(log.slice(0, 3), part));
    expect(events.find((e) => e.type === 'start')).toMatchObject({ items: { train: 6, val: 3, test: 0 }, featuresEncoded: 0 });
  });

  it('evaluates every epoch on the level score: SRCC, flip rate and sample answers with their targets', () => {
    const evals = full.log.filter((r) => r.type === 'eval');
    expect(evals.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    const last = evals.at(-1);
    if (last?.type !== 'eval') throw new Error('no eval record');
    expect(last).toMatchObject({ split: 'val', n: 3, flipUnit: 'crf' });
    expect(typeof last.srcc).toBe('number');
    expect(last.descriptions).toHaveLength(1);
    expect(last.descriptions[0].reference).toMatch(/^the quality score is \d\.\d\d\. the quality level is (bad|poor|fair|good|excellent)\.$/);
    expect(full.calibration).toBeNull();
  });

  it('writes an LMM-VQA bundle that the Scorer loads and that scores on 1–5; a plot and a summary', async () => {
    const { model, manifest: bundleManifest } = await loadLmmVqaBundle(full.bundleDir ?? '');
    expect(bundleManifest.architecture).toBe('lmm-vqa');
    // output.onnx exports the scoring path; the Scorer then runs it in ONNX Runtime.
    expect(bundleManifest.files.onnx?.decoder).toBe('decoder.onnx');
    await model.dispose();
    const scorer = await createScorer(full.bundleDir ?? '');
    expect((scorer.model as LmmVqa).usesOnnx).toBe(true);
    const clip = join(dir, 'chaplin', 'chaplin.h264-crf18.mp4');
    const result = await scorer.score(clip, { describe: true });
    await scorer.dispose();
    expect(result.score).toBeGreaterThanOrEqual(1);
    expect(result.score).toBeLessThanOrEqual(5);
    expect(typeof result.description).toBe('string');
    // The scorer samples the video as training did: its score is the final validation score of that item.
    const evaluated = full.val?.items.find((item) => item.id === 'chaplin-crf18');
    expect(evaluated).toBeDefined();
    expect(Math.abs(result.score - (evaluated?.score ?? Number.NaN))).toBeLessThan(1e-4);
    expect(await readFile(full.plotFile ?? '', 'utf8')).toMatch(/^<svg/);
    const summary = JSON.parse(await readFile(join(full.runDir, 'summary.json'), 'utf8')) as { steps: number; calibration: unknown };
    expect(summary).toMatchObject({ steps: 12, calibration: null });
  });

  it('resumes an interrupted run with the same loss curve', async () => {
    const cfg = parseTrainConfig(microLmmConfig(manifest, join(dir, 'resumed'), { train: { epochs: 6 } }));
    const first = await train(cfg, { cacheDir: cacheDir(), stopAfterStep: 5 });
    expect(first).toMatchObject({ interrupted: true, step: 5 });
    expect(await readdir(join(first.runDir, 'checkpoints'))).toContain('step-00000005');
    const second = await train(cfg, { cacheDir: cacheDir(), resume: true });
    const [a, b] = [steps(full.log), steps(second.log)];
    expect(b.map((r) => r.step)).toEqual(a.map((r) => r.step));
    b.forEach((r, i) => expect(Math.abs(r.loss - a[i].loss), `step ${r.step}`).toBeLessThanOrEqual(1e-5 * Math.max(1, a[i].loss)));
  }, 180_000);

  it("trains with a user's ONNX spatial tower (contextTowerOnnx); its bundle points at the file and scores as the run evaluated", async () => {
    const base = microLmmConfig(manifest, join(dir, 'tower'), { train: { epochs: 2 } });
    const tower = join(dir, 'siglip-like.onnx');
    const vit = new ViT(lmmModelConfig(parseTrainConfig(base)).spatialVit, { trainable: false, seed: 9 });
    await exportVitToOnnx(vit, tower, { imageSize: vit.config.imageSize });
    vit.dispose();
    const towerEvents: TrainEvent[] = [];
    const cfg = parseTrainConfig({ ...base, model: { ...(base.model as object), contextTowerOnnx: tower }, output: { ...(base.output as object), onnx: true } });
    const run = await train(cfg, { cacheDir: cacheDir(), onEvent: (e) => towerEvents.push(e) });
    // 9 videos × M = 2 key frames through the tower, once, before the first step.
    expect(towerEvents.find((e) => e.type === 'start')).toMatchObject({ featuresEncoded: 18 });
    expect(steps(run.log)).toHaveLength(4);
    const { model, manifest: bundleManifest } = await loadLmmVqaBundle(run.bundleDir ?? '');
    expect(model.spatialEncoder).toBeNull();
    await model.dispose();
    expect(bundleManifest.files.spatialTower).toEqual({ kind: 'onnx', path: tower });
    expect(bundleManifest.files.onnx).toBeUndefined();
    const scorer = await createScorer(run.bundleDir ?? '');
    const result = await scorer.score(join(dir, 'chaplin', 'chaplin.h264-crf18.mp4'));
    await scorer.dispose();
    const evaluated = run.val?.items.find((item) => item.id === 'chaplin-crf18');
    expect(Math.abs(result.score - (evaluated?.score ?? Number.NaN))).toBeLessThan(1e-4);
  }, 180_000);

  it('lmmTargetText: the answer of the entry\'s target score, null without one', () => {
    expect(lmmTargetText({ id: 'a', path: 'a.mp4', pseudoMos: { method: 'vmaf-anchored', value: 3.456 } } as never)).toBe('the quality score is 3.46. the quality level is good.');
    expect(lmmTargetText({ id: 'b', path: 'b.mp4' } as never)).toBeNull();
  });
});
