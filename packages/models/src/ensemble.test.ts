import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend, makeClip } from './__fixtures__/tiny.js';
import { loadBundle, saveBundle } from './bundle.js';
import { readBundleArchitecture } from './bundle-io.js';
import { createScorer } from './cp-llm-scorer.js';
import { CpLlm } from './cp-llm.js';
import { loadEnsembleBundle, readEnsembleManifest, saveEnsembleBundle } from './ensemble-bundle.js';
import { ModelError } from './errors.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import type { ScoreResult } from './scorer.js';

let dir: string;
let clip: string;
const members: string[] = [];
const calibrations = [
  { kind: 'linear', slope: 2, intercept: 3 },
  { kind: 'linear', slope: 1.5, intercept: 2.5 },
  { kind: 'logistic4', top: 4.5, bottom: 1.2, midpoint: 0.1, scale: 0.3 },
] as const;

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-ensemble-'));
  clip = makeClip(join(dir, 'clip.mp4'));
  // Three members with different weights (seeds) and calibrations; the second saved with its ONNX scoring path.
  for (const [i, calibration] of calibrations.entries()) {
    const model = await CpLlm.create(cpLlmPreset('micro', { seed: 20 + i }), { tokenizer: presetTokenizer('micro') });
    const member = join(dir, `member-${i}`);
    await saveBundle(model, member, { calibration, onnx: i === 1 });
    await model.dispose();
    members.push(member);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensemble bundle', () => {
  it('scores the mean of its members’ calibrated scores, with each member’s score', async () => {
    const ensembleDir = join(dir, 'ensemble');
    await saveEnsembleBundle(members, ensembleDir, { memberInfo: [{ seed: 20 }, { seed: 21 }, { seed: 22 }] });
    expect(await readBundleArchitecture(ensembleDir)).toBe('cp-llm-ensemble');
    const manifest = await readEnsembleManifest(ensembleDir);
    expect(manifest.members).toEqual(['members/0', 'members/1', 'members/2']);
    expect(manifest.memberInfo).toEqual([{ seed: 20 }, { seed: 21 }, { seed: 22 }]);

    const singles: ScoreResult[] = [];
    for (const member of members) {
      const scorer = await createScorer(member);
      singles.push(await scorer.score(clip, { describe: true }));
      await scorer.dispose();
    }
    const before = tf.memory().numTensors;
    const scorer = await createScorer(ensembleDir);
    const result = await scorer.score(clip, { describe: true });
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(result.members).toHaveLength(3);
    result.members?.forEach((score, i) => expect(score).toBeCloseTo(singles[i].score, 9));
    expect(result.score).toBeCloseTo(mean(singles.map((s) => s.score)), 9);
    expect(result.rawScore).toBeCloseTo(mean(singles.map((s) => s.rawScore)), 9);
    result.perFrame.forEach((value, f) => expect(value).toBeCloseTo(mean(singles.map((s) => s.perFrame[f])), 9));
    // The members really differ, so the mean is not any one of them.
    expect(new Set(singles.map((s) => s.score.toFixed(6))).size).toBe(3);
    // The first member describes.
    expect(result.description).toBe(singles[0].description);
    const compared = await scorer.compare(clip, clip);
    expect(compared.a.score).toBeCloseTo(result.score, 12);
    expect(compared.better).toBe('tie');
    await scorer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mixes members with other K, view sizes and branches: one decode, each member scores its own views', async () => {
    // A pixel-only member with 3 patches per frame from a larger pixel view, beside a plain one.
    const other = join(dir, 'member-pixel-k3');
    const config = { ...cpLlmPreset('micro', { seed: 30, k: 3 }), pixelFit: [48, 96] as [number, number], branches: 'pixel' as const };
    const model = await CpLlm.create(config, { tokenizer: presetTokenizer('micro') });
    await saveBundle(model, other, { calibration: { kind: 'linear', slope: 1, intercept: 3 } });
    await model.dispose();
    const ensembleDir = join(dir, 'ensemble-views');
    await saveEnsembleBundle([members[0], other], ensembleDir, { memberInfo: [{ seed: 20 }, { seed: 30, group: 'pixel-k3' }] });
    const singles: ScoreResult[] = [];
    for (const member of [members[0], other]) {
      const scorer = await createScorer(member);
      singles.push(await scorer.score(clip));
      await scorer.dispose();
    }
    const scorer = await createScorer(ensembleDir);
    const result = await scorer.score(clip, { describe: true });
    result.members?.forEach((score, i) => expect(score).toBeCloseTo(singles[i].score, 9));
    expect(result.score).toBeCloseTo((singles[0].score + singles[1].score) / 2, 9);
    expect(result.frames).toEqual(singles[0].frames);
    expect(singles[0].score).not.toBeCloseTo(singles[1].score, 6);
    expect(typeof result.description).toBe('string');
    await scorer.dispose();
  });

  it('loads members with the ONNX path where a member has it, and the tfjs path on request', async () => {
    const ensembleDir = join(dir, 'ensemble-engines');
    await saveEnsembleBundle(members.slice(0, 2), ensembleDir);
    const auto = await createScorer(ensembleDir);
    const tfjs = await createScorer(ensembleDir, { engine: 'tfjs' });
    const [a, b] = [await auto.score(clip), await tfjs.score(clip)];
    expect(a.score).toBeCloseTo(b.score, 4);
    await Promise.all([auto.dispose(), tfjs.dispose()]);
    await expect(createScorer(ensembleDir, { engine: 'onnx' })).rejects.toThrow(/members\/0.*files\.onnx|no files\.onnx/);
    await expect(createScorer(ensembleDir, { calibration: calibrations[0] })).rejects.toThrow(/one calibration per member/);
  });

  it('refuses fewer than two members, members that sample other views, and loadBundle of an ensemble', async () => {
    await expect(saveEnsembleBundle([members[0]], join(dir, 'one'))).rejects.toThrow(/at least 2 member bundles, got 1/);
    const other = join(dir, 'other-m');
    const model = await CpLlm.create(cpLlmPreset('micro', { m: 3 }), { tokenizer: presetTokenizer('micro') });
    await saveBundle(model, other);
    await model.dispose();
    const error = await saveEnsembleBundle([members[0], other], join(dir, 'mixed')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_CONFIG');
    expect((error as Error).message).toMatch(/other-m.*config\.m is 3, but member 0 .* has 2/);
    expect((await readdir(dir)).filter((name) => name.includes('mixed'))).toEqual([]);

    const ensembleDir = join(dir, 'ensemble');
    await expect(loadBundle(ensembleDir)).rejects.toThrow(/architecture is 'cp-llm-ensemble'.*createScorer/);
  });

  it('names the broken member, and a member path outside the bundle', async () => {
    const broken = join(dir, 'broken');
    await saveEnsembleBundle(members.slice(0, 2), broken);
    await rm(join(broken, 'members', '1', 'model.json'));
    await expect(createScorer(broken)).rejects.toThrow(/ensemble member .*members\/1.*model\.json/);

    const escaping = join(dir, 'escaping');
    await saveEnsembleBundle(members.slice(0, 2), escaping);
    const manifest = JSON.parse(await readFile(join(escaping, 'model.json'), 'utf8')) as { members: string[] };
    manifest.members[1] = '../member-2';
    await writeFile(join(escaping, 'model.json'), JSON.stringify(manifest));
    await expect(loadEnsembleBundle(escaping)).rejects.toThrow(/members: '\.\.\/member-2' is not a directory inside/);
    manifest.members = ['members/0'];
    await writeFile(join(escaping, 'model.json'), JSON.stringify(manifest));
    await expect(loadEnsembleBundle(escaping)).rejects.toThrow(/model\.json.*members/);
  });
});
