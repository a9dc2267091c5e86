import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from './__fixtures__/run-cli.js';
import { makeTinyBundle } from './__fixtures__/tiny-bundle.js';
import { modelSearch } from './model.js';

let dir: string;
let bundle: string;
let clip: string;
const savedEnv = process.env.VQLM_MODEL;
const savedCwd = process.cwd();

beforeAll(async () => {
  dir = await makeTempDir('model');
  bundle = await makeTinyBundle(dir);
  clip = makeTestClip(join(dir, 'clip.mp4'), 128, 64, 12);
});
afterAll(async () => removeTempDir(dir));
beforeEach(() => {
  delete process.env.VQLM_MODEL;
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env.VQLM_MODEL;
  else process.env.VQLM_MODEL = savedEnv;
  modelSearch.from = undefined;
  process.chdir(savedCwd);
});

describe('the default model of the model commands', () => {
  it('says where it looked and how to pass a model when there is none', async () => {
    const empty = await makeTempDir('model-empty');
    try {
      modelSearch.from = [empty];
      for (const args of [['score', clip], ['compare', clip, clip], ['describe', clip], ['eval', '--manifest', join(dir, 'none.jsonl')]]) {
        if (args[0] === 'eval') await writeFile(join(dir, 'none.jsonl'), `${JSON.stringify({ id: 'a', path: 'clip.mp4', sourceId: 'a' })}\n`);
        const { code, stdout, stderr } = await runCli(args);
        expect(code).toBe(1);
        expect(stdout).toBe('');
        expect(stderr.trim().split('\n')).toHaveLength(1);
        expect(stderr).toContain(`no models/vqlm-tiny/model.json was found in ${empty} or any parent`);
        expect(stderr).toMatch(/pass --model <bundle> .* or set VQLM_MODEL \[E_NO_MODEL\]\n$/);
      }
    } finally {
      await removeTempDir(empty);
    }
  });

  it('uses VQLM_MODEL when --model is not given', async () => {
    const explicit = await runCli(['score', clip, '--model', bundle, '--json']);
    expect(explicit.code).toBe(0);
    process.env.VQLM_MODEL = bundle;
    modelSearch.from = [dir];
    const implicit = await runCli(['score', clip, '--json']);
    expect(implicit.stderr).toBe('');
    expect(implicit.stdout).toBe(explicit.stdout);
    process.env.VQLM_MODEL = join(dir, 'clip.mp4');
    const bad = await runCli(['score', clip]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VQLM_MODEL: .*clip\.mp4 is not a model bundle \(no model\.json\) \[E_BUNDLE_IO\]/);
  });

  it('finds models/vqlm-tiny in the working directory before the repository one', async () => {
    const project = join(dir, 'project');
    const other = await makeTinyBundle(join(project, 'models'), 11, 'vqlm-tiny');
    await mkdir(join(project, 'sub'), { recursive: true });
    const explicit = await runCli(['score', clip, '--model', other, '--json']);
    const reference = await runCli(['score', clip, '--model', bundle, '--json']);
    expect(explicit.stdout).not.toBe(reference.stdout);
    process.chdir(join(project, 'sub'));
    const implicit = await runCli(['score', clip, '--json']);
    expect(implicit.stderr).toBe('');
    expect(implicit.stdout).toBe(explicit.stdout);
    const described = await runCli(['describe', clip, '--json']);
    expect(described.code).toBe(0);
  });

  it('scores, describes and compares with an LMM-VQA bundle (a whole-video score, no per-frame scores)', async () => {
    const { LmmVqa, createLmmVqaConfig, cpLlmPreset, presetTokenizer, saveBundle } = await import('@vqlm/models');
    const { vitConfig } = await import('@vqlm/encoders');
    const lmm = new LmmVqa(
      createLmmVqaConfig({
        m: 2,
        spatialVit: vitConfig('micro', { numLayers: 1 }),
        temporal: { numFrames: 4, imageSize: 16, tubeletFrames: 2, patchSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
        decoder: cpLlmPreset('micro').decoder,
      }),
      { tokenizer: presetTokenizer('micro') },
    );
    const path = join(dir, 'lmm');
    try {
      await saveBundle(lmm, path);
    } finally {
      await lmm.dispose();
    }
    const scored = await runCli(['score', clip, '--model', path, '--describe', '--json']);
    expect(scored.stderr).toBe('');
    expect(scored.code).toBe(0);
    const record = JSON.parse(scored.stdout) as { score: number; level: string; perFrame: number[]; description: string };
    expect(record.score).toBeGreaterThanOrEqual(1);
    expect(record.score).toBeLessThanOrEqual(5);
    expect(record.perFrame).toEqual([]);
    expect(typeof record.description).toBe('string');
    const text = await runCli(['score', clip, '--model', path]);
    expect(text.stdout).toBe(`${clip}: ${record.score.toFixed(3)} (${record.level}); whole-video score (LMM-VQA)\n`);
    const compared = await runCli(['compare', clip, clip, '--model', path, '--json']);
    expect(compared.code).toBe(0);
    expect((JSON.parse(compared.stdout) as { better: string }).better).toBe('tie');
    // export-onnx adds LMM-VQA's whole scoring path; the score and the answer stay the same.
    const exported = await runCli(['export-onnx', path, '--json']);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toEqual({ bundles: [{ dir: path, onnx: { spatialEncoder: 'spatial_encoder.onnx', temporalEncoder: 'temporal_encoder.onnx', decoder: 'decoder.onnx', levelHead: 'level_head.onnx' } }] });
    const onnx = JSON.parse((await runCli(['score', clip, '--model', path, '--describe', '--json', '--engine', 'onnx'])).stdout) as typeof record;
    expect(Math.abs(onnx.score - record.score)).toBeLessThan(1e-4);
    expect(onnx.description).toBe(record.description);
  });
});
