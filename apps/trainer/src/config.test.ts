import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensembleSize, groupModel, loadTrainConfig, parseTrainConfig } from './config.js';
import { TrainerError } from './errors.js';

describe('trainConfigSchema', () => {
  it("fills in CP-LLM's settings: M = K = 8, 448/224 views, LoRA rank 4 on q/k/v, equal weights, Adam at 1e-4, a mix of pairs", () => {
    const config = parseTrainConfig({ data: { manifest: 'm.jsonl' } }, '/base');
    expect(config.data.manifest).toBe('/base/m.jsonl');
    expect(config.model).toMatchObject({ m: 8, k: 8, contextSize: 448, patchSize: 224, pixelFit: [540, 1080], branches: 'both', lora: { r: 4, alpha: 4, targetModules: ['q_proj', 'k_proj', 'v_proj'] } });
    expect(config.model.contextVit.preset).toBe('siglip-so400m-448');
    expect(config.train).toMatchObject({ optimizer: 'adam', lr: 1e-4, pairRatio: 0.5, lossWeights: { mse: 1, rank: 1, ce: 1 }, rankMargin: 0, freeze: { decoderBase: true, lora: false, pixelEncoder: false } });
    expect(config.output.dir).toBe('/base/runs/cp-llm');
  });

  it('names every bad field', () => {
    const bad = () => parseTrainConfig({ data: { manifest: 'm' }, train: { lr: -1, pairRatio: 2, rankMargin: -0.1 }, model: { lora: { r: 0 } }, extra: 1 });
    expect(bad).toThrow(TrainerError);
    expect(bad).toThrow(/config.train.lr: .*config.train.pairRatio: .*config.train.rankMargin: .*/s);
    expect(() => parseTrainConfig({ data: { manifest: 'm' }, model: { pixelVit: { preset: 'huge' } } })).toThrow(/model.pixelVit.preset: unknown ViT preset "huge"/);
    expect(() => parseTrainConfig({ data: { manifest: 'm', ratios: { train: 0.5, val: 0.1, test: 0.1 } } })).toThrow(/data.ratios: must sum to 1/);
    expect(() => parseTrainConfig({ data: { manifest: 'm' }, model: { decoder: { checkpoint: 'gemma' } } })).toThrow(/model.decoder.tokenizer: required/);
    expect(() => parseTrainConfig({ data: {} })).toThrow(/config.data.manifest: Required/);
  });

  it('validates ensemble groups as the base model with their fields replaced, and names what is wrong', () => {
    const base = { data: { manifest: 'm.jsonl' }, model: { k: 8, decoder: { hiddenSize: 32 } } };
    const config = parseTrainConfig({ ...base, ensemble: { members: 2, groups: [{ name: 'pixel-k24', members: 3, model: { k: 24, branches: 'pixel', contextTowerOnnx: 'tower.onnx' } }] } }, '/base');
    expect(ensembleSize(config)).toBe(5);
    const group = config.ensemble.groups[0];
    const model = groupModel(config, group);
    // The group's fields replace the base's; the rest is the base's, paths resolved.
    expect(model).toMatchObject({ k: 24, branches: 'pixel', m: 8, contextTowerOnnx: '/base/tower.onnx', decoder: { hiddenSize: 32 } });
    expect(config.model).toMatchObject({ k: 8, branches: 'both' });
    const group0 = (model: Record<string, unknown>, name = 'g') => ({ ...base, ensemble: { groups: [{ name, members: 1, model }] } });
    expect(() => parseTrainConfig(group0({ k: 0 }))).toThrow(/config\.ensemble\.groups\[0\]\.model\.k: Number must be greater than 0/);
    expect(() => parseTrainConfig(group0({ pixelVit: { preset: 'huge' } }))).toThrow(/config\.ensemble\.groups\[0\]\.model\.pixelVit\.preset: unknown ViT preset/);
    expect(() => parseTrainConfig(group0({ m: 4 }))).toThrow(/groups\[0\]\.model\.m: 4, but the base has 8; every member must see the same key frames/);
    expect(() => parseTrainConfig(group0({}, 'Bad Name'))).toThrow(/groups\.0\.name: lowercase letters, digits and dashes/);
    const twice = { ...base, ensemble: { groups: [{ name: 'a', members: 1, model: {} }, { name: 'a', members: 1, model: {} }] } };
    expect(() => parseTrainConfig(twice)).toThrow(/groups\[1\]\.name: "a" is used by an earlier group/);
  });

  it('names a config file that is missing or not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vqlm-config-'));
    try {
      await expect(loadTrainConfig(join(dir, 'none.json'))).rejects.toThrow(/none.json: cannot read \(ENOENT\)/);
      await writeFile(join(dir, 'bad.json'), '{ nope');
      await expect(loadTrainConfig(join(dir, 'bad.json'))).rejects.toThrow(/bad.json: not JSON/);
      await writeFile(join(dir, 'ok.json'), JSON.stringify({ data: { manifest: 'corpus/manifest.jsonl' } }));
      expect((await loadTrainConfig(join(dir, 'ok.json'))).data.manifest).toBe(join(dir, 'corpus', 'manifest.jsonl'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
