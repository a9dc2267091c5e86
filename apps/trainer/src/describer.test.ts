import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { levelFromScore } from '@vqlm/heads';
import { IGNORE_LABEL, createScorer, loadBundle } from '@vqlm/models';
import { parseTrainConfig, type TrainConfig } from './config.js';
import { loadEntries, prepareData } from './data.js';
import { describerExample, describerTarget } from './describer.js';
import { memberConfig } from './ensemble.js';
import { createRunModel } from './model.js';
import { runTokenizer } from './model.js';
import { trainingTexts } from './batch.js';
import { finishedRunSummary, train, type LogRecord, type StepRecord } from './trainer.js';
import { microConfig, microLmmConfig, useTinyCorpus } from './__fixtures__/corpus.js';

let dir: string;
let manifest: string;

useTinyCorpus('describer', (d, m) => {
  dir = d;
  manifest = m;
});

const DESCRIBER = { steps: 6, batchSize: 4, lr: 0.01, lead: 'the video is {level}.', target: 'recipe' } as const;

function config(out: string, describer: Record<string, unknown> | null = DESCRIBER, train: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig({ ...microConfig(manifest, join(dir, out), { train: { epochs: 2, ...train } }), ...(describer ? { describer } : {}) });
}

const steps = (log: readonly LogRecord[]): StepRecord[] => log.filter((r): r is StepRecord => r.type === 'step');
const cacheDir = (): string => join(dir, 'cache');

describe('describer config', () => {
  it('is off by default, accepts {level} only, and is refused for LMM-VQA', () => {
    expect(config('defaults', null).describer).toEqual({ steps: 0, lr: 1e-3, batchSize: 16, lead: 'its quality is {level}:', target: 'description' });
    expect(() => config('bad-lead', { lead: 'crf {crf}' })).toThrow(/config\.describer\.lead: only \{level\} can be filled in, got \{crf\}/);
    expect(() => parseTrainConfig({ ...microLmmConfig(manifest, join(dir, 'lmm')), describer: { steps: 5 } })).toThrow(/describer\.steps: .*CP-LLM's/);
  });

  it("gives the phase to an ensemble's first member only", () => {
    const cfg = parseTrainConfig({ ...microConfig(manifest, join(dir, 'ens')), describer: DESCRIBER, ensemble: { members: 2, groups: [{ name: 'px', members: 1, model: { branches: 'pixel' } }] } });
    expect(memberConfig(cfg, 0, true).describer.steps).toBe(6);
    expect(memberConfig(cfg, 1, true).describer.steps).toBe(0);
    expect(memberConfig(cfg, 0, true, cfg.ensemble.groups[0]).describer.steps).toBe(0);
  });
});

describe('describerExample', () => {
  it('puts the lead (level of the target) after the start token, ignored by the loss, and the recipe after it', async () => {
    const cfg = config('examples');
    const { entries, root } = await loadEntries(cfg);
    const model = await createRunModel(cfg, await runTokenizer(cfg, trainingTexts(entries)));
    try {
      expect(model.config.describeLead).toBe('the video is {level}.');
      const data = await prepareData(entries.slice(0, 2), root, model, { cacheDir: cacheDir() });
      const item = data.items.get(entries[1].id)!;
      const example = describerExample(model, item, cfg.describer)!;
      const level = levelFromScore(entries[1].pseudoMos!.value!);
      expect(example.lead).toBe(`the video is ${level}.`);
      const tokenizer = model.tokenizer;
      const lead = tokenizer.encode(example.lead!);
      // Cut to maxDescriptionTokens (12 here), as the main phase's targets are.
      const text = tokenizer.encode(describerTarget(entries[1], 'recipe')!).slice(0, 12);
      expect(describerTarget(entries[1], 'recipe')).toBe(`it was re-encoded with H.264 at CRF ${entries[1].variant!.recipe.crf}.`);
      expect(example.input).toEqual([tokenizer.bosTokenId, ...lead, ...text]);
      expect(example.labels).toEqual([...lead.map(() => IGNORE_LABEL), ...text, tokenizer.eosTokenId]);
      expect(describerTarget({ ...entries[1], variant: undefined }, 'recipe')).toBeNull();
      expect(describerTarget(entries[1], 'description')).toBe(entries[1].description);
      expect(describerTarget(entries[1], 'distortion')).toBe('it was re-encoded with H.264.');
      expect(describerExample(model, { ...item, entry: { ...item.entry, pseudoMos: undefined } }, cfg.describer)).toBeNull();
    } finally {
      await model.dispose();
    }
  });
});

describe('train with a describer phase', () => {
  let full: Awaited<ReturnType<typeof train>>;

  beforeAll(async () => {
    full = await train(config('full'), { cacheDir: cacheDir() });
  }, 180_000);

  it('runs the phase after the main steps: decoder only, its cross-entropy falls, the scores do not move', () => {
    const log = steps(full.log);
    expect(log).toHaveLength(4 + 6); // 6 train videos, batch 4 → 2 steps per epoch, 2 epochs; then 6 describer steps
    expect(log.map((r) => r.phase ?? 'main')).toEqual([...Array(4).fill('main'), ...Array(6).fill('describer')]);
    const describing = log.slice(4);
    describing.forEach((r) => {
      expect(Object.keys(r.parts)).toEqual(['ce']);
      expect(r.lr).toBe(0.01);
    });
    expect(describing.at(-1)!.parts.ce).toBeLessThan(describing[0].parts.ce);
    // The last main-phase evaluation and the final one score the same: encoders and head were frozen.
    const evals = full.log.filter((r) => r.type === 'eval' && r.split === 'val');
    expect(evals.map((r) => r.step)).toEqual([2, 4, 10]);
    const [, main, final] = evals as Extract<LogRecord, { type: 'eval' }>[];
    expect(final.srcc).toBe(main.srcc);
    expect(final.descriptions[0].text).not.toBe(main.descriptions[0].text);
  });

  it('writes a bundle whose descriptions start from the level of its score', async () => {
    const bundle = await loadBundle(full.bundleDir!);
    expect(bundle.model.config.describeLead).toBe('the video is {level}.');
    await bundle.model.dispose();
    const scorer = await createScorer(full.bundleDir!);
    const result = await scorer.score(join(dir, 'plane', 'plane.h264-crf18.mp4'), { describe: true });
    await scorer.dispose();
    expect(result.description).toMatch(new RegExp(`^the video is ${result.level}\\s*\\.`));
    const summary = JSON.parse(await readFile(join(full.runDir, 'summary.json'), 'utf8')) as { steps: number; describer: unknown };
    expect(summary).toMatchObject({ steps: 10, describer: DESCRIBER });
  });

  it('resumes inside the phase with the same batches and optimizer state: the same loss curve', async () => {
    const cfg = config('resumed');
    const first = await train(cfg, { cacheDir: cacheDir(), stopAfterStep: 7 });
    expect(first).toMatchObject({ interrupted: true, step: 7 });
    const state = JSON.parse(await readFile(join(first.runDir, 'checkpoints', 'step-00000007', 'state.json'), 'utf8')) as { phase?: string };
    expect(state.phase).toBe('describer');
    await expect(train(config('resumed', { ...DESCRIBER, lr: 0.02 }), { cacheDir: cacheDir(), resume: true })).rejects.toThrow(/describer phase with other describer settings/);
    const second = await train(cfg, { cacheDir: cacheDir(), resume: true });
    const [a, b] = [steps(full.log), steps(second.log)];
    expect(b.map((r) => r.step)).toEqual(a.map((r) => r.step));
    b.forEach((r, i) => expect(Math.abs(r.loss - a[i].loss), `step ${r.step}`).toBeLessThanOrEqual(1e-5 * Math.max(1, a[i].loss)));
  }, 180_000);

  it('adds the phase to a finished run with --resume, keeping its main steps', async () => {
    const plain = config('extended', null);
    const before = await train(plain, { cacheDir: cacheDir() });
    expect(steps(before.log)).toHaveLength(4);
    const extended = config('extended');
    expect(await finishedRunSummary(plain)).not.toBeNull();
    expect(await finishedRunSummary(extended)).toBeNull();
    const after = await train(extended, { cacheDir: cacheDir(), resume: true });
    const log = steps(after.log);
    expect(log).toHaveLength(10);
    expect(log.slice(0, 4)).toEqual(steps(before.log));
    // The same phase as a run that had it from the start.
    log.slice(4).forEach((r, i) => expect(Math.abs(r.loss - steps(full.log)[4 + i].loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, r.loss)));
  }, 180_000);
});
