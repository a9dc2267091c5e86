import { expectNoTensorLeak, tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, useTestBackend } from './__fixtures__/tiny.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { createCpLlmConfig } from './config.js';
import { CpLlm, DESCRIBE_NO_REPEAT_NGRAM, describeLeadText, disposeCpLlmOutput, type CpLlmViews } from './cp-llm.js';
import { ModelError } from './errors.js';

let model: CpLlm;
const B = 2;
const M = 2;

beforeAll(async () => {
  await useTestBackend();
  model = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
});
afterAll(async () => {
  await model?.dispose();
});

async function views(seed: number): Promise<CpLlmViews> {
  const contextFeatures = await model.encodeContext({ data: bytes(B * M * 32 * 32 * 3, seed), dims: [B, M, 32, 32, 3] });
  return { contextFeatures, pixel: { data: bytes(B * M * 2 * 32 * 32 * 3, seed + 1), dims: [B, M, 2, 32, 32, 3] } };
}

const targets = (): number[][] => [
  [2, 10, 11, 12],
  [2, 13, 14, 15],
];

describe('createCpLlmConfig', () => {
  it('fills in the paper defaults: M = 8, K = 8, 448 context, 224 patches, LoRA r = 4 on q/k/v', () => {
    const config = createCpLlmConfig({ decoder: cpLlmPreset('micro').decoder });
    expect([config.m, config.k, config.contextSize, config.patchSize]).toEqual([8, 8, 448, 224]);
    expect(config.pixelFit).toEqual([540, 1080]);
    expect(config.lora).toMatchObject({ r: 4, targetModules: ['q_proj', 'k_proj', 'v_proj'] });
    expect(config.contextVit.imageSize).toBe(448);
  });

  it('pixelInput defaults to rgb; highpass reaches the pixel encoder; a bad value is named', async () => {
    expect(createCpLlmConfig({ decoder: cpLlmPreset('micro').decoder }).pixelInput).toBe('rgb');
    expect(model.pixelEncoder.input).toBe('rgb');
    expect(() => createCpLlmConfig({ decoder: cpLlmPreset('micro').decoder, pixelInput: 'sobel' as 'rgb' })).toThrow(/config\.pixelInput: /);
    const highpass = await CpLlm.create({ ...cpLlmPreset('micro'), pixelInput: 'highpass' }, { tokenizer: presetTokenizer('micro') });
    expect(highpass.pixelEncoder.input).toBe('highpass');
    await highpass.dispose();
  });

  it('names the bad field', () => {
    expect(() => createCpLlmConfig({ decoder: cpLlmPreset('micro').decoder, m: 0 })).toThrow(ModelError);
    expect(() => createCpLlmConfig({ decoder: cpLlmPreset('micro').decoder, m: 0 })).toThrow(/config\.m: /);
    expect(() => createCpLlmConfig({ ...cpLlmPreset('micro'), patchSize: 64 })).toThrow(/config\.pixelVit\.imageSize: must equal patchSize 64/);
  });
});

describe('CpLlm.create', () => {
  it('builds and disposes every part without leaking', async () => {
    await expectNoTensorLeak(async () => {
      const other = await CpLlm.create(cpLlmPreset('micro', { seed: 8 }), { tokenizer: presetTokenizer('micro') });
      expect(other.trainableVariables().length).toBe(model.trainableVariables().length);
      await other.dispose();
    });
  });
});

describe('CpLlm.describeViews', () => {
  it('blocks repeated 4-grams by default; noRepeatNgramSize 0 is plain greedy', async () => {
    const video = { context: { data: bytes(M * 32 * 32 * 3, 3), dims: [M, 32, 32, 3] }, pixel: { data: bytes(M * 2 * 32 * 32 * 3, 4), dims: [M, 2, 32, 32, 3] } };
    const describe = (options: { noRepeatNgramSize?: number }): Promise<string> => model.describeViews(video, null, { maxNewTokens: 24, ...options });
    // The random micro decoder greedily repeats one special token (decoded as nothing); blocking
    // 4-grams forces it onto other tokens after three.
    const plain = await describe({ noRepeatNgramSize: 0 });
    const blocked = await expectNoTensorLeak(() => describe({}));
    expect(plain).toBe('');
    expect(blocked.length).toBeGreaterThan(0);
    expect(await describe({ noRepeatNgramSize: DESCRIBE_NO_REPEAT_NGRAM })).toBe(blocked);
    expect(DESCRIBE_NO_REPEAT_NGRAM).toBe(4);
  });
});

describe('describe lead', () => {
  const video = { context: { data: bytes(M * 32 * 32 * 3, 3), dims: [M, 32, 32, 3] }, pixel: { data: bytes(M * 2 * 32 * 32 * 3, 4), dims: [M, 2, 32, 32, 3] } };

  it('describeLeadText fills in the level, prefers an explicit lead, and names a missing level', () => {
    const config = { describeLead: 'its quality is {level}:' };
    expect(describeLeadText(config, { level: 'fair' })).toBe('its quality is fair:');
    expect(describeLeadText(config, { lead: ' the video is ', level: 'fair' })).toBe('the video is');
    expect(describeLeadText(config, { lead: null })).toBeNull();
    expect(describeLeadText({ describeLead: null }, { level: 'good' })).toBeNull();
    expect(describeLeadText({ describeLead: 'the video' })).toBe('the video');
    expect(() => describeLeadText(config)).toThrow(/options\.level: .*"its quality is \{level\}:" \(config\.describeLead\).*got none/);
    expect(() => describeLeadText(config, { level: 'great' as 'good' })).toThrow(/one of bad, poor, fair, good, excellent, got "great"/);
  });

  it('config.describeLead defaults to none and accepts {level} only', () => {
    expect(model.config.describeLead).toBeNull();
    expect(createCpLlmConfig({ ...cpLlmPreset('micro'), describeLead: 'its quality is {level}:' }).describeLead).toBe('its quality is {level}:');
    expect(() => createCpLlmConfig({ ...cpLlmPreset('micro'), describeLead: 'crf {crf}, {level}' })).toThrow(/config\.describeLead: only \{level\} can be filled in, got \{crf\}/);
  });

  it('a single video\'s description starts with the lead and continues it; pairs have none', async () => {
    const led = await CpLlm.create({ ...cpLlmPreset('micro'), describeLead: 'the video is {level}.' }, { tokenizer: presetTokenizer('micro') });
    try {
      const lead = (level: string): string => `the video is ${level}. `;
      const good = await expectNoTensorLeak(() => led.describeViews(video, null, { level: 'good', maxNewTokens: 8 }));
      const bad = await led.describeViews(video, null, { level: 'bad', maxNewTokens: 8 });
      expect(good.startsWith(lead('good'))).toBe(true);
      expect(bad.startsWith(lead('bad'))).toBe(true);
      // The same weights without a lead write another text: the decoder continued the lead.
      expect(await led.describeViews(video, null, { lead: null, maxNewTokens: 8 })).toBe(await model.describeViews(video, null, { maxNewTokens: 8 }));
      await expect(led.describeViews(video)).rejects.toThrow(/options\.level: /);
      const pair = await led.describeViews(video, video, { maxNewTokens: 8 });
      expect(pair.startsWith(lead('good'))).toBe(false);
    } finally {
      await led.dispose();
    }
  });

  it('describePrefix of the visual tokens is the prefix forward gives a single video (its hidden copy left out)', async () => {
    const a = await views(1);
    const ids = targets();
    const single = model.forward({ first: a, targetTokenIds: ids });
    const visual = model.visualTokens(a);
    const prefix = model.describePrefix(visual);
    const logits = model.decoder.forward({ prefixEmbeddings: prefix, prefixMask: ids.map(() => new Array<boolean>(prefix.shape[1]).fill(true)), tokenIds: ids });
    const [x, y] = [await single.logits.data(), await logits.data()];
    let max = 0;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
    expect(max).toBeLessThan(1e-5);
    const th = model.contextEncoder.numTokens;
    expect(prefix.shape).toEqual([B, M * th + M * model.pixelEncoder.numTokens + model.tokenizer.encode(model.config.prompts.describe).length, model.config.decoder.hiddenSize]);
    expect(() => model.visualTokens({ contextFeatures: a.contextFeatures, pixel: { data: new Uint8Array(3), dims: [1, 3] } })).toThrow(/views\.pixel: expected shape/);
    expect(() => model.describePrefix(tf.zeros<tf.Rank.R3>([1, 2, 3]))).toThrow(/visual: expected shape \[B, N, 16\], got \[1, 2, 3\]/);
    disposeCpLlmOutput(single);
    tf.dispose([visual, prefix, logits, a.contextFeatures]);
  });
});

describe('CpLlm.forward', () => {
  it('returns per-frame scores [B, M], video scores [B] and logits [B, T, V] for pairs, without leaking', async () => {
    const a = await views(1);
    const b = await views(5);
    await expectNoTensorLeak(async () => {
      const out = model.forward({ first: a, second: b, targetTokenIds: targets() });
      expect(out.first.frameScores.shape).toEqual([B, M]);
      expect(out.first.videoScores.shape).toEqual([B]);
      expect(out.second?.frameScores.shape).toEqual([B, M]);
      expect(out.logits.shape).toEqual([B, 4, 96]);
      // Video score = mean of the frame scores.
      const frames = (await out.first.frameScores.array());
      const video = Array.from(await out.first.videoScores.data());
      frames.forEach((row, i) => expect(video[i]).toBeCloseTo((row[0] + row[1]) / 2, 5));
      disposeCpLlmOutput(out);
    });
    tf.dispose([a.contextFeatures, b.contextFeatures]);
  });

  it('duplicates a single input and masks its copy out of the decoder', async () => {
    const a = await views(1);
    const other = await views(9);
    const single = model.forward({ first: a, targetTokenIds: targets() });
    const hiddenOther = model.forward({ first: a, second: other, secondVisible: [false, false], targetTokenIds: targets() });
    const pair = model.forward({ first: a, second: other, targetTokenIds: targets() });
    const s = await single.logits.data();
    const h = await hiddenOther.logits.data();
    const p = await pair.logits.data();
    let maxHidden = 0;
    let maxPair = 0;
    for (let i = 0; i < s.length; i++) {
      maxHidden = Math.max(maxHidden, Math.abs(s[i] - h[i]));
      maxPair = Math.max(maxPair, Math.abs(s[i] - p[i]));
    }
    // Whatever sits in the hidden second slot, the logits are the same …
    expect(maxHidden).toBeLessThan(1e-5);
    // … while a visible second video changes them.
    expect(maxPair).toBeGreaterThan(1e-4);
    expect(single.second).toBeNull();
    // Mixed batch: row 0 single (hidden), row 1 pair.
    const mixed = model.forward({ first: a, second: other, secondVisible: [false, true], targetTokenIds: targets() });
    const mx = (await mixed.logits.array());
    const sx = (await single.logits.array());
    const px = (await pair.logits.array());
    expect(Math.max(...mx[0].flat().map((v, i) => Math.abs(v - sx[0].flat()[i])))).toBeLessThan(1e-5);
    expect(Math.max(...mx[1].flat().map((v, i) => Math.abs(v - px[1].flat()[i])))).toBeLessThan(1e-5);
    [single, hiddenOther, pair, mixed].forEach(disposeCpLlmOutput);
    tf.dispose([a.contextFeatures, other.contextFeatures]);
  });

  it('gives gradients to every trainable part: projector, pixel encoder, head and each LoRA matrix', async () => {
    const a = await views(1);
    const vars = model.trainableVariables();
    expect(vars.length).toBeGreaterThan(10);
    await expectNoTensorLeak(() => {
      const { grads, value } = tf.variableGrads(() => {
        const out = model.forward({ first: a, targetTokenIds: targets(), training: true });
        return tf.add<tf.Scalar>(tf.sum(out.first.videoScores), tf.mean(out.logits));
      }, vars);
      const lora = Object.keys(grads).filter((name) => vars.find((v) => v.name === name && model.decoder.trainableVariables().includes(v)));
      expect(lora.length).toBe(model.decoder.trainableVariables().length);
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose(a.contextFeatures);
  });

  it('rejects bad shapes naming the argument and both shapes', async () => {
    const a = await views(1);
    expect(() => model.forward({ first: a, targetTokenIds: [[2, 3]] })).toThrow(ModelError);
    expect(() => model.forward({ first: a, targetTokenIds: [[2, 3]] })).toThrow(/first\.contextFeatures: expected shape \[1, M, \d+, 24\], got \[2, 2, \d+, 24\]/);
    expect(() => model.forward({ first: { ...a, pixel: { data: new Uint8Array(3), dims: [2, 2, 3, 32, 32, 3] } }, targetTokenIds: targets() })).toThrow(
      /first\.pixel: expected shape \[2, 2, 2, 32, 32, 3\], got \[2, 2, 3, 32, 32, 3\]/,
    );
    expect(() => model.forward({ first: a, second: a, secondVisible: [true], targetTokenIds: targets() })).toThrow(/secondVisible: expected shape \[2\], got \[1\]/);
    expect(() => model.forward({ first: a, targetTokenIds: [] })).toThrow(/targetTokenIds: expected a non-empty rectangular \[B, T\] array/);
    await expect(model.encodeContext({ data: new Uint8Array(0), dims: [1, 16, 16, 3] })).rejects.toThrow(/frames: expected shape \[B, M, 32, 32, 3\], got \[1, 16, 16, 3\]/);
    tf.dispose(a.contextFeatures);
  });
});
