import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescriptionStore, describeRecipe, describeVariant } from './descriptions.js';
import { DatasetError } from './errors.js';

const sentences = (text: string) => text.split(/(?<=\.)\s+/);

describe('describeVariant', () => {
  it('writes three sentences from content, style, recipe, scores and MOS', () => {
    const text = describeVariant({
      content: 'a cockatoo in close-up',
      style: 'live-action footage',
      recipe: { kind: 'h264', crf: 47 },
      fullReference: { vmaf: 31.26, psnr: 29.04, ssim: 0.8812 },
      mos: 2.2,
    });
    expect(sentences(text)).toHaveLength(3);
    expect(text).toBe(
      'The video shows a cockatoo in close-up. Its style is live-action footage. Technically, it was re-encoded with H.264 at CRF 47; ' +
        'against its source it scores VMAF 31.3, PSNR 29.0 dB, SSIM 0.881; its quality is poor (2.20 on 1–5) and blocking and loss of fine texture are visible.',
    );
  });

  it('says what is unknown instead of inventing it', () => {
    const text = describeVariant({});
    expect(sentences(text)).toEqual(['Its content is not labelled.', 'Its style is not labelled.', 'Technically, its technical quality is not known.']);
    const good = describeVariant({ recipe: { kind: 'blur', sigma: 0.5 }, mos: 4.6 });
    expect(good).toMatch(/excellent .* distortions are hard to see\.$/);
    expect(describeVariant({ recipe: { kind: 'noise', strength: 30 }, mos: 1.2 })).toMatch(/bad .* strong noise covers the picture\.$/);
  });

  it('rejects a MOS off the 1–5 scale', () => {
    expect(() => describeVariant({ mos: 70 })).toThrow(DatasetError);
    expect(() => describeVariant({ mos: 70 })).toThrow(/mos must be in \[1, 5\], got 70/);
  });
});

describe('describeRecipe', () => {
  it('says how a variant was made, in the words of describeVariant, and nothing else', () => {
    expect(describeRecipe({ kind: 'h264', crf: 31 })).toBe('it was re-encoded with H.264 at CRF 31.');
    expect(describeRecipe({ kind: 'original' })).toBe('it is the unaltered source clip.');
    expect(describeRecipe({ kind: 'scale', factor: 2 })).toBe('it was downscaled by a factor of 2 and scaled back up.');
    expect(describeVariant({ recipe: { kind: 'blur', sigma: 2 } })).toContain(describeRecipe({ kind: 'blur', sigma: 2 }).replace(/\.$/, ''));
    expect(() => describeRecipe(null as never)).toThrow(/recipe: expected a variant recipe, got null/);
  });

  it('parameters: false names the distortion alone', () => {
    expect(describeRecipe({ kind: 'h264', crf: 31 }, { parameters: false })).toBe('it was re-encoded with H.264.');
    expect(describeRecipe({ kind: 'blur', sigma: 2 }, { parameters: false })).toBe('it was blurred.');
    expect(describeRecipe({ kind: 'noise', strength: 9 }, { parameters: false })).toBe('noise was added to it.');
    expect(describeRecipe({ kind: 'scale', factor: 2 }, { parameters: false })).toBe('it was downscaled and scaled back up.');
    expect(describeRecipe({ kind: 'original' }, { parameters: false })).toBe('it is the unaltered source clip.');
  });
});

describe('DescriptionStore', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-desc-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('saves and loads JSONL sorted by id', async () => {
    const store = new DescriptionStore();
    store.set({ id: 'b', text: 'Second.', origin: 'human' });
    store.set({ id: 'a', text: 'First.', origin: 'generated' });
    await store.save(join(dir, 'd.jsonl'));
    const loaded = await DescriptionStore.load(join(dir, 'd.jsonl'));
    expect(loaded.list()).toEqual([
      { id: 'a', text: 'First.', origin: 'generated' },
      { id: 'b', text: 'Second.', origin: 'human' },
    ]);
    expect(loaded.get('b')?.text).toBe('Second.');
    expect(loaded.has('c')).toBe(false);
  });

  it('names file and line for bad records', () => {
    expect(() => DescriptionStore.parse('{"id":"a","text":"x","origin":"robot"}', 'd.jsonl')).toThrow(/d\.jsonl:1: origin/);
    expect(() => DescriptionStore.parse('{"id":"a","text":"x","origin":"human"}\n{"id":"a","text":"y","origin":"human"}', 'd.jsonl')).toThrow(
      /d\.jsonl:2: duplicate id 'a'/,
    );
    expect(() => new DescriptionStore().set({ id: '', text: 'x', origin: 'human' })).toThrow(/record: id/);
  });
});
