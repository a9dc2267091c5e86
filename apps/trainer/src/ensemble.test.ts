import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCalibration, parseCalibration } from '@vqlm/heads';
import { createScorer, readBundleArchitecture } from '@vqlm/models';
import { parseTrainConfig, type TrainConfig } from './config.js';
import { memberConfig } from './ensemble.js';
import { train, type TrainEvent } from './trainer.js';
import { microConfig, useTinyCorpus } from './__fixtures__/corpus.js';

let dir: string;
let manifest: string;

useTinyCorpus('ensemble', (d, m) => {
  dir = d;
  manifest = m;
});

function config(out: string, members: number): TrainConfig {
  return parseTrainConfig({ ...microConfig(manifest, join(dir, out), { train: { epochs: 2 } }), ensemble: { members } });
}

interface Summary {
  ensemble?: boolean;
  calibration: unknown;
  members: { seed: number }[];
  valItems: { id: string; score: number; target: number | null }[];
  val: { n: number; summary: { srcc: number } | null; flip: { diff: number; pairs: number }[] };
}

describe('memberConfig', () => {
  it('gives member i the seed seed + i and its own run directory; the base split when the manifest has none', () => {
    const base = config('cfg', 3);
    const second = memberConfig(base, 1, true);
    expect(second).toMatchObject({ seed: base.seed + 1, ensemble: { members: 1, groups: [] }, output: { dir: join(base.output.dir, 'members', `seed-${base.seed + 1}`) } });
    expect(second.data).toEqual(base.data);
    expect(memberConfig(base, 2, false).data).toEqual({ ...base.data, splitSeed: base.seed });
  });
});

describe('train with ensemble.members', () => {
  it('trains the members (an interrupted one resumes), bundles them, and scores with the mean of their calibrated scores', async () => {
    const cfg = config('ens', 2);
    const first = await train(cfg, { stopAfterStep: 3 });
    // The interrupted result names the member's run directory, where its checkpoint is.
    expect(first).toMatchObject({ interrupted: true, step: 3, bundleDir: null, runDir: join(cfg.output.dir, 'members', 'seed-1') });
    await expect(train(cfg)).rejects.toThrow(/members\/seed-1: has checkpoints of an earlier run; pass --resume/);

    const events: TrainEvent[] = [];
    const done = await train(cfg, { resume: true, onEvent: (e) => events.push(e) });
    expect(done.interrupted).toBe(false);
    expect(events.filter((e) => e.type === 'member')).toEqual([
      { type: 'member', index: 0, total: 2, seed: 1, group: null, reused: false },
      { type: 'member', index: 1, total: 2, seed: 2, group: null, reused: false },
    ]);
    // One cache in the ensemble's run directory: the resumed member reads its features from it;
    // the next member's frozen tower has other random weights (its seed), so it encodes its own.
    expect(events.filter((e) => e.type === 'start')).toMatchObject([
      { step: 3, resumed: true, featuresEncoded: 0, featuresCached: 18 },
      { step: 0, resumed: false, featuresEncoded: 18, featuresCached: 0 },
    ]);
    expect(await readdir(join(cfg.output.dir, 'cache'))).toEqual(expect.arrayContaining(['features', 'views']));
    expect(done.members).toEqual([
      { seed: 1, runDir: join(cfg.output.dir, 'members', 'seed-1'), reused: false },
      { seed: 2, runDir: join(cfg.output.dir, 'members', 'seed-2'), reused: false },
    ]);
    expect((await readdir(join(cfg.output.dir, 'members'))).sort()).toEqual(['seed-1', 'seed-2']);
    expect(await readFile(done.plotFile ?? '', 'utf8')).toMatch(/^<svg/);

    // The ensemble's validation scores are the mean of the members' calibrated scores.
    const summary = JSON.parse(await readFile(join(cfg.output.dir, 'summary.json'), 'utf8')) as Summary;
    const members = await Promise.all([1, 2].map(async (seed) => JSON.parse(await readFile(join(cfg.output.dir, 'members', `seed-${seed}`, 'summary.json'), 'utf8')) as Summary));
    expect(summary.ensemble).toBe(true);
    expect(summary.members.map((m) => m.seed)).toEqual([1, 2]);
    expect(summary.valItems).toHaveLength(3);
    for (const item of summary.valItems) {
      const mean = members.map((m) => applyCalibration(parseCalibration(m.calibration), m.valItems.find((i) => i.id === item.id)!.score)).reduce((a, b) => a + b, 0) / 2;
      expect(item.score).toBeCloseTo(mean, 12);
    }
    expect(summary.val.n).toBe(3);
    expect(summary.val.flip.map((b) => [b.diff, b.pairs])).toEqual([
      [12, 2],
      [24, 1],
    ]);
    expect(done.val?.items.map((i) => i.score)).toEqual(summary.valItems.map((i) => i.score));

    // The bundle is an ensemble whose Scorer averages the members' bundles.
    expect(await readBundleArchitecture(done.bundleDir ?? '')).toBe('cp-llm-ensemble');
    const video = join(dir, 'plane', 'plane.h264-crf18.mp4');
    const ensemble = await createScorer(done.bundleDir ?? '');
    const result = await ensemble.score(video);
    await ensemble.dispose();
    const singles = [];
    for (const seed of [1, 2]) {
      const scorer = await createScorer(join(cfg.output.dir, 'members', `seed-${seed}`, 'bundle'));
      singles.push((await scorer.score(video)).score);
      await scorer.dispose();
    }
    expect(result.members).toEqual(singles);
    expect(result.score).toBeCloseTo((singles[0] + singles[1]) / 2, 12);

    // Run again without --fresh: both members are reused, and the ensemble comes out the same.
    const again: TrainEvent[] = [];
    const reused = await train(cfg, { onEvent: (e) => again.push(e) });
    expect(again.filter((e) => e.type === 'member').map((e) => (e as { reused: boolean }).reused)).toEqual([true, true]);
    expect(again.some((e) => e.type === 'step')).toBe(false);
    expect([done.step, reused.step]).toEqual([4, 4]); // 6 train videos, batch 4, 2 epochs
    expect(reused.val?.items).toEqual(done.val?.items);
  }, 240_000);
});

describe('train with ensemble.groups and jobs', () => {
  it('trains a group with other model settings beside the base, two members at once in child processes; an abort checkpoints both and resume finishes', async () => {
    const cfg = parseTrainConfig({
      ...microConfig(manifest, join(dir, 'groups'), { train: { epochs: 2 } }),
      ensemble: { members: 1, groups: [{ name: 'pixel-k3', members: 1, model: { k: 3, branches: 'pixel' } }] },
    });
    const controller = new AbortController();
    const lines: { index: number; line: string }[] = [];
    const first = await train(cfg, {
      jobs: 2,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'memberOutput') return;
        lines.push({ index: e.index, line: e.line });
        if (/^step \d+\/4/.test(e.line)) controller.abort();
      },
    });
    expect(first).toMatchObject({ interrupted: true, bundleDir: null });
    // Both children stopped with a checkpoint (or had finished), and said so on their progress stream.
    expect(lines.some((l) => /checkpoint in .*checkpoints; continue with --resume|^done:/.test(l.line))).toBe(true);

    const events: TrainEvent[] = [];
    const done = await train(cfg, { jobs: 2, resume: true, onEvent: (e) => events.push(e) });
    expect(done.interrupted).toBe(false);
    const runDirs = [join(cfg.output.dir, 'members', 'seed-1'), join(cfg.output.dir, 'members', 'pixel-k3-seed-1')];
    expect(done.members?.map((m) => ({ ...m, reused: undefined }))).toEqual([
      { seed: 1, runDir: runDirs[0], reused: undefined },
      { seed: 1, group: 'pixel-k3', runDir: runDirs[1], reused: undefined },
    ]);
    expect(new Set(events.filter((e) => e.type === 'memberOutput').map((e) => (e as { index: number }).index))).toEqual(new Set([0, 1]));
    // The group member has its own settings; the bundle mixes both and scores their mean.
    const memberCfg = JSON.parse(await readFile(join(runDirs[1], 'bundle', 'model.json'), 'utf8')) as { config: { k: number; branches: string } };
    expect(memberCfg.config).toMatchObject({ k: 3, branches: 'pixel' });
    const video = join(dir, 'plane', 'plane.h264-crf18.mp4');
    const singles: number[] = [];
    for (const runDir of runDirs) {
      const scorer = await createScorer(join(runDir, 'bundle'));
      singles.push((await scorer.score(video)).score);
      await scorer.dispose();
    }
    const scorer = await createScorer(done.bundleDir!);
    const result = await scorer.score(video);
    await scorer.dispose();
    expect(result.members).toHaveLength(2);
    result.members?.forEach((score, i) => expect(score).toBeCloseTo(singles[i], 9));
    const summary = JSON.parse(await readFile(join(cfg.output.dir, 'summary.json'), 'utf8')) as { members: { seed: number; group?: string }[] };
    expect(summary.members.map((m) => m.group ?? null)).toEqual([null, 'pixel-k3']);
  }, 300_000);
});
