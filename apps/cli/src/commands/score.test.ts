import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from '../__fixtures__/run-cli.js';
import { makeTinyBundle } from '../__fixtures__/tiny-bundle.js';
import { modelSearch } from '../model.js';

let dir: string;
let bundle: string;
let clip: string;
let other: string;

beforeAll(async () => {
  dir = await makeTempDir('score');
  bundle = await makeTinyBundle(dir);
  clip = makeTestClip(join(dir, 'clip.mp4'), 128, 64, 12);
  other = makeTestClip(join(dir, 'other.mp4'), 64, 48, 10);
});
afterAll(async () => removeTempDir(dir));

describe('vqlm score', () => {
  it('prints {path, score, level, perFrame} per video as JSON lines, the same on every run', async () => {
    const first = await runCli(['score', clip, other, '--model', bundle, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.path)).toEqual([clip, other]);
    for (const r of records) {
      expect(Object.keys(r).sort()).toEqual(['level', 'path', 'perFrame', 'score']);
      expect(typeof r.score).toBe('number');
      expect(['bad', 'poor', 'fair', 'good', 'excellent']).toContain(r.level);
      expect(r.perFrame).toHaveLength(2);
    }
    expect(records[0]?.score).not.toBe(records[1]?.score);
    const again = await runCli(['score', clip, other, '--model', bundle, '--json']);
    expect(again.stdout).toBe(first.stdout);
  });

  it('adds the description with --describe and prints a text line without --json', async () => {
    const described = await runCli(['score', clip, '--model', bundle, '--describe', '--json']);
    expect(described.code).toBe(0);
    const record = JSON.parse(described.stdout) as { description?: unknown; score: number };
    expect(typeof record.description).toBe('string');
    const text = await runCli(['score', clip, '--model', bundle]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${clip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${record.score.toFixed(3)} \\((bad|poor|fair|good|excellent)\\); per frame \\d\\.\\d\\d \\d\\.\\d\\d\\n$`));
  });

  it('scores with an ensemble bundle: the mean of its members, each listed under members', async () => {
    const { saveEnsembleBundle } = await import('@vqlm/models');
    const second = await makeTinyBundle(dir, 4, 'member-b');
    const ensemble = join(dir, 'ensemble');
    await saveEnsembleBundle([bundle, second], ensemble);
    const single: number[] = [];
    for (const b of [bundle, second]) single.push((JSON.parse((await runCli(['score', clip, '--model', b, '--json'])).stdout) as { score: number }).score);
    const result = await runCli(['score', clip, '--model', ensemble, '--json']);
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout) as { score: number; members: number[] };
    expect(Object.keys(record).sort()).toEqual(['level', 'members', 'path', 'perFrame', 'score']);
    expect(record.members).toEqual(single);
    expect(record.score).toBeCloseTo((single[0] + single[1]) / 2, 12);
    const text = await runCli(['score', clip, '--model', ensemble]);
    expect(text.stdout).toContain(`; ensemble members ${single.map((x) => x.toFixed(2)).join(' ')}`);
  });

  it('reports a broken file, scores the rest and exits 1 with one summary line', async () => {
    const broken = join(dir, 'broken.mp4');
    await writeFile(broken, 'not a video');
    const good = await runCli(['score', clip, '--model', bundle, '--json']);
    const { code, stdout, stderr } = await runCli(['score', broken, clip, '--model', bundle, '--json']);
    expect(code).toBe(1);
    expect(stdout).toBe(good.stdout);
    const errors = stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(new RegExp(`^vqlm: ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(errors[1]).toMatch(/^vqlm: 1 of 2 videos failed/);
  });

  it('says in one line that a model is needed when none is given or found', async () => {
    const saved = process.env.VQLM_MODEL;
    delete process.env.VQLM_MODEL;
    modelSearch.from = [dir];
    try {
      const { code, stdout, stderr } = await runCli(['score', clip]);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^vqlm: no model bundle: --model was not given.*pass --model <bundle>.*\[E_NO_MODEL\]\n$/);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      modelSearch.from = undefined;
      if (saved !== undefined) process.env.VQLM_MODEL = saved;
    }
  });
});

describe('vqlm compare and describe', () => {
  it('compare prints both scores, the difference and the better one', async () => {
    const { code, stdout } = await runCli(['compare', clip, other, '--model', bundle, '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { a: { path: string; score: number }; b: { path: string; score: number }; difference: number; better: string };
    const scores = (await runCli(['score', clip, other, '--model', bundle, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { score: number }).score);
    expect([result.a.path, result.b.path]).toEqual([clip, other]);
    expect([result.a.score, result.b.score]).toEqual(scores);
    expect(result.difference).toBeCloseTo(result.a.score - result.b.score, 12);
    expect(result.better).toBe(result.difference > 0 ? 'a' : 'b');
    const text = await runCli(['compare', clip, other, '--model', bundle]);
    expect(text.stdout).toMatch(new RegExp(`better: ${result.better} \\(.*\\) by ${Math.abs(result.difference).toFixed(3)}\\n$`));
  });

  it('describe prints the same description as score --describe', async () => {
    const { code, stdout } = await runCli(['describe', clip, '--model', bundle, '--json']);
    expect(code).toBe(0);
    const described = JSON.parse(stdout) as { path: string; description: string };
    expect(described.path).toBe(clip);
    const scored = JSON.parse((await runCli(['score', clip, '--model', bundle, '--describe', '--json'])).stdout) as { description: string };
    expect(described.description).toBe(scored.description);
    expect((await runCli(['describe', clip, '--model', bundle])).stdout).toBe(`${described.description}\n`);
  });
});
