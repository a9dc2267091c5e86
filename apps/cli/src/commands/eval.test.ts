import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipRateByDiff, summary } from '@vqlm/metrics';
import { resolveBinaries } from '@vqlm/video-io';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from '../__fixtures__/run-cli.js';
import { makeTinyBundle } from '../__fixtures__/tiny-bundle.js';

let dir: string;
let bundle: string;
const crfs = [18, 34, 51];
const pseudo = [4.6, 3.4, 1.8];

function entry(crf: number, i: number, path = `crf${crf}.mp4`): string {
  return JSON.stringify({
    id: `src-crf${crf}`,
    path,
    sourceId: 'src',
    variant: { level: i + 1, recipe: { kind: 'h264', crf } },
    pseudoMos: { method: 'vmaf-anchored', value: pseudo[i] },
  });
}

beforeAll(async () => {
  dir = await makeTempDir('eval');
  bundle = await makeTinyBundle(dir);
  const source = makeTestClip(join(dir, 'source.mp4'), 128, 64, 12);
  for (const crf of crfs) {
    execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-i', source, '-c:v', 'libx264', '-crf', String(crf), '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', join(dir, `crf${crf}.mp4`)]);
  }
  await writeFile(join(dir, 'manifest.jsonl'), `${crfs.map((c, i) => entry(c, i)).join('\n')}\n`);
});
afterAll(async () => removeTempDir(dir));

describe('vqlm eval', () => {
  it('scores every entry and reports correlations against pseudo-MOS and flip rate by CRF difference', async () => {
    const { code, stdout, stderr } = await runCli(['eval', '--manifest', join(dir, 'manifest.jsonl'), '--model', bundle, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    const scored = await runCli(['score', ...crfs.map((c) => join(dir, `crf${c}.mp4`)), '--model', bundle, '--json']);
    const scores = scored.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { score: number }).score);
    expect(report).toMatchObject({ entries: 3, scored: 3, failed: [], target: 'pseudo-mos', withMos: 0, withPseudoMos: 3, flipUnit: 'crf' });
    expect(report.summary).toEqual(summary(scores, pseudo));
    const samples = crfs.map((crf, i) => ({ sourceId: 'src', level: crf, score: scores[i] ?? 0 }));
    expect(report.flipRate).toEqual(flipRateByDiff(samples, [16, 17, 33]));

    const text = await runCli(['eval', '--manifest', join(dir, 'manifest.jsonl'), '--model', bundle]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('target: pseudo-MOS (no entry has a MOS)');
    expect(text.stdout).toMatch(/^n 3 {2}SRCC -?\d\.\d{4} {2}PLCC -?\d\.\d{4} {2}KRCC -?\d\.\d{4} {2}RMSE \d+\.\d{4}$/m);
    expect(text.stdout).toMatch(/flip rate by CRF difference:\n {2}16: \d\.\d{4} \(\d\/1 pairs\)\n {2}17: /);
  });

  it('reports an entry that cannot be scored, evaluates the rest and exits 1', async () => {
    const manifest = join(dir, 'broken.jsonl');
    await writeFile(manifest, `${[entry(18, 0), entry(34, 1, 'missing.mp4'), entry(51, 2)].join('\n')}\n`);
    const { code, stdout, stderr } = await runCli(['eval', '--manifest', manifest, '--model', bundle, '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { scored: number; failed: { id: string }[]; summary: unknown; summaryError: string; flipRate: { diff: number }[] };
    expect(report.scored).toBe(2);
    expect(report.failed.map((f) => f.id)).toEqual(['src-crf34']);
    expect(report.summary).toBeNull();
    expect(report.summaryError).toMatch(/3/);
    expect(report.flipRate.map((b) => b.diff)).toEqual([33]);
    const lines = stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^vqlm: src-crf34 \(missing\.mp4\): /);
    expect(lines[1]).toBe('vqlm: 1 of 3 entries failed [E_EVAL_FAILED]');
  });

  it('uses the default model (VQLM_MODEL) without --model', async () => {
    const saved = process.env.VQLM_MODEL;
    process.env.VQLM_MODEL = bundle;
    try {
      const implicit = await runCli(['eval', '--manifest', join(dir, 'manifest.jsonl'), '--json']);
      const explicit = await runCli(['eval', '--manifest', join(dir, 'manifest.jsonl'), '--model', bundle, '--json']);
      expect(implicit.code).toBe(0);
      expect(implicit.stdout).toBe(explicit.stdout);
    } finally {
      if (saved === undefined) delete process.env.VQLM_MODEL;
      else process.env.VQLM_MODEL = saved;
    }
  });
});
