import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipRateByDiff } from '@vqlm/metrics';
import { h264Ladder, makeVariants, resolveBinaries } from '@vqlm/video-io';
import { makeTempDir, removeTempDir, runCli, sharedPath } from '../__fixtures__/run-cli.js';
import { makeTinyBundle } from '../__fixtures__/tiny-bundle.js';

let dir: string;
let bundle: string;
const crfs = [20, 30, 40];
const sources = ['plane', 'realshort'];
const id = (source: string, crf: number): string => `${source}-crf${crf}`;

beforeAll(async () => {
  dir = await makeTempDir('flip');
  bundle = await makeTinyBundle(dir);
  const lines: string[] = [];
  for (const source of sources) {
    // A 1 s, 160-pixel-wide cut of a real corpus clip, then a CRF ladder of it.
    const cut = join(dir, `${source}.mp4`);
    execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-i', sharedPath('corpus', 'sources', `${source}.mp4`), '-t', '1', '-vf', 'scale=160:-2', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10', '-pix_fmt', 'yuv420p', cut]);
    const variants = await makeVariants(cut, { outDir: join(dir, source), ladder: h264Ladder({ from: 20, to: 40, step: 10 }), preset: 'ultrafast' });
    // The source as the ladder's level-0 original, as `vqlm corpus build` writes it (no CRF): it is
    // not a distorted variant, so it neither counts nor turns the unit into ladder levels.
    lines.push(JSON.stringify({ id: source, path: basename(cut), sourceId: source, variant: { level: 0, recipe: { kind: 'original' } } }));
    variants.forEach((v, i) => {
      const crf = v.recipe.crf ?? -1;
      lines.push(JSON.stringify({ id: id(source, crf), path: `${source}/${basename(v.path)}`, sourceId: source, variant: { level: i + 1, recipe: { kind: 'h264', crf } } }));
    });
  }
  await writeFile(join(dir, 'manifest.jsonl'), `${lines.join('\n')}\n`);
});
afterAll(async () => removeTempDir(dir));

describe('vqlm flip-rate', () => {
  it('scores every variant with a model and reports the flip rate by CRF difference and overall', async () => {
    const manifest = join(dir, 'manifest.jsonl');
    const { code, stdout, stderr } = await runCli(['flip-rate', '--manifest', manifest, '--model', bundle, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { entries: number; variants: number; scored: number; flipUnit: string; byDiff: unknown[]; overall: { pairs: number; flips: number; rate: number }; source: unknown };
    expect(report).toMatchObject({ entries: 8, variants: 6, scored: 6, failed: [], flipUnit: 'crf', source: { kind: 'model', model: bundle } });
    // The same numbers from the scores of `vqlm score`.
    const paths = sources.flatMap((s) => crfs.map((c) => join(dir, s, `${s}.h264-crf${c}.mp4`)));
    expect((await readdir(join(dir, 'plane'))).sort()).toEqual(crfs.map((c) => `plane.h264-crf${c}.mp4`));
    const scores = (await runCli(['score', ...paths, '--model', bundle, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { score: number }).score);
    const samples = sources.flatMap((s, si) => crfs.map((crf, ci) => ({ sourceId: s, level: crf, score: scores[si * 3 + ci] ?? Number.NaN })));
    const expected = flipRateByDiff(samples, [10, 20]);
    expect(report.byDiff).toEqual(expected);
    expect(report.overall.pairs).toBe(6);
    expect(report.overall.flips).toBe(expected.reduce((n, b) => n + b.flips, 0));
    expect(report.overall.rate).toBeCloseTo(report.overall.flips / 6, 12);

    const text = await runCli(['flip-rate', '--manifest', manifest, '--model', bundle, '--diffs', '10,5']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^scored 6 of 6 variants \(8 entries\) of .*manifest\.jsonl with model .*bundle\nflip rate by CRF difference:\n {2}10: \d\.\d{4} \(\d\/4 pairs\)\n {2}5: – \(0\/0 pairs\)\noverall: \d\.\d{4} \(\d\/6 pairs\)\n$/);
  });

  it('gives a hand-checked flip rate from precomputed scores (CSV and JSONL), without a model', async () => {
    // plane: crf20 3.0, crf30 3.5 (flip vs 20), crf40 2.0 → diff 10: 20/30 flip, 30/40 ok; diff 20: 20/40 ok
    // realshort: crf20 4.0, crf30 4.0 (tie = flip), crf40 4.5 (flip vs 30 and vs 20)
    // diff 10: 3 flips of 4 pairs; diff 20: 1 flip of 2 pairs; overall 4 of 6.
    const values: Record<string, number> = { 'plane-crf20': 3, 'plane-crf30': 3.5, 'plane-crf40': 2, 'realshort-crf20': 4, 'realshort-crf30': 4, 'realshort-crf40': 4.5 };
    const csv = join(dir, 'scores.csv');
    await writeFile(csv, `id,score\n${Object.entries(values).map(([k, v]) => `${k},${v}`).join('\n')}\nunrelated,1\n`);
    const jsonl = join(dir, 'scores.jsonl');
    await writeFile(jsonl, `${Object.entries(values).map(([k, v]) => JSON.stringify({ id: k, score: v })).join('\n')}\n`);
    const expected = {
      entries: 8,
      variants: 6,
      scored: 6,
      failed: [],
      flipUnit: 'crf',
      byDiff: [
        { diff: 10, pairs: 4, flips: 3, rate: 0.75 },
        { diff: 20, pairs: 2, flips: 1, rate: 0.5 },
      ],
      overall: { pairs: 6, flips: 4, rate: 4 / 6 },
    };
    for (const file of [csv, jsonl]) {
      const { code, stdout, stderr } = await runCli(['flip-rate', '--manifest', join(dir, 'manifest.jsonl'), '--scores', file, '--json']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ manifest: join(dir, 'manifest.jsonl'), source: { kind: 'scores', file }, ...expected });
    }
    const text = await runCli(['flip-rate', '--manifest', join(dir, 'manifest.jsonl'), '--scores', csv, '--diffs', '20']);
    expect(text.stdout).toContain('flip rate by CRF difference:\n  20: 0.5000 (1/2 pairs)\noverall: 0.6667 (4/6 pairs)\n');
  });

  it('uses the ladder level when a variant has no CRF, and reports a missing score and exits 1', async () => {
    const manifest = join(dir, 'levels.jsonl');
    const entries = [1, 2, 3].map((level) => ({ id: `s-${level}`, path: `s${level}.mp4`, sourceId: 's', variant: { level, recipe: { kind: 'blur', sigma: level } } }));
    await writeFile(manifest, `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const scores = join(dir, 'levels.csv');
    await writeFile(scores, 'id,score\ns-1,2\ns-3,3\n');
    const { code, stdout, stderr } = await runCli(['flip-rate', '--manifest', manifest, '--scores', scores, '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { flipUnit: string; byDiff: unknown; failed: { id: string }[] };
    expect(report.flipUnit).toBe('level');
    expect(report.byDiff).toEqual([{ diff: 2, pairs: 1, flips: 1, rate: 1 }]);
    expect(report.failed.map((f) => f.id)).toEqual(['s-2']);
    expect(stderr.trim().split('\n')).toEqual([`vqlm: s-2 (s2.mp4): no score in ${scores} [E_MISSING_ID]`, 'vqlm: 1 of 3 variants failed [E_FLIP_FAILED]']);
  });

  it('reports a video that cannot be scored, skips it and exits 1', async () => {
    const manifest = join(dir, 'broken.jsonl');
    await writeFile(manifest, `${[20, 30].map((crf) => JSON.stringify({ id: `p-${crf}`, path: crf === 30 ? 'missing.mp4' : `plane/plane.h264-crf${crf}.mp4`, sourceId: 'p', variant: { level: crf, recipe: { kind: 'h264', crf } } })).join('\n')}\n`);
    const { code, stdout, stderr } = await runCli(['flip-rate', '--manifest', manifest, '--model', bundle]);
    expect(code).toBe(1);
    expect(stdout).toContain('scored 1 of 2 variants');
    expect(stdout).toContain('flip rate: no ladder with two or more scored variants');
    expect(stderr).toMatch(/^vqlm: p-30 \(missing\.mp4\): .*\nvqlm: 1 of 2 variants failed \[E_FLIP_FAILED\]\n$/);
  });

  it('rejects bad arguments naming them', async () => {
    const manifest = join(dir, 'manifest.jsonl');
    expect((await runCli(['flip-rate'])).stderr).toBe('vqlm: --manifest <file> is required [E_NO_MANIFEST]\n');
    expect((await runCli(['flip-rate', '--manifest', manifest, '--scores', 'x.csv', '--diffs', '2,x'])).stderr).toBe("vqlm: --diffs: 'x' is not a positive number (expected e.g. 2,4,10) [E_ARGS]\n");
    expect((await runCli(['flip-rate', '--manifest', manifest, '--scores', 'x.csv', '--model', bundle])).stderr).toMatch(/--scores and --model exclude each other/);
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"id":"plane-crf20","score":"high"}\n');
    expect((await runCli(['flip-rate', '--manifest', manifest, '--scores', bad])).stderr).toBe(`vqlm: ${bad}:1: bad score "high" for id 'plane-crf20' (not a finite number) [E_JSONL]\n`);
  });
});
