import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderError } from './decoder-error.js';
import { TextTokenizer, buildWordPieceTokenizer, joinSplitPunctuation, loadTokenizer, saveTokenizer } from './tokenizer.js';
import { tempDir } from './__fixtures__/tiny.js';

const corpus = [
  'The video is sharp and clean.',
  'Heavy blocking artifacts in dark areas.',
  'The video is blurry, with visible banding.',
  'Sharp details and natural colours.',
];

describe('tokenizer', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(() => tmp.remove());

  it('builds a WordPiece tokenizer.json that the HF loader reads back', async () => {
    const files = buildWordPieceTokenizer(corpus, { vocabSize: 120, extraSpecialTokens: ['<image>'] });
    await saveTokenizer(tmp.dir, files);
    const tokenizer = await loadTokenizer(join(tmp.dir, 'tokenizer.json'));
    expect(tokenizer.vocabSize).toBeLessThanOrEqual(120);
    expect([tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.bosTokenId, tokenizer.unkTokenId]).toEqual([0, 1, 2, 3]);
    expect(tokenizer.tokenToId('<image>')).toBe(4);
    const ids = tokenizer.encode('The video is sharp.', { addBos: true, addEos: true });
    expect(ids[0]).toBe(2);
    expect(ids.at(-1)).toBe(1);
    expect(ids).toHaveLength(7);
    expect(tokenizer.decode(ids)).toBe('the video is sharp.');
    // An unseen word falls back to characters, never to <unk>.
    const unseen = tokenizer.encode('Shade');
    expect(unseen.length).toBeGreaterThan(1);
    expect(unseen).not.toContain(3);
    expect(tokenizer.decode(unseen)).toBe('shade');
    // An unseen character is <unk>.
    expect(tokenizer.encode('zq')).toEqual([3]);
  });

  it('gives split punctuation back its spacing', () => {
    const text = 'its quality is good: it was re-encoded with H.264 at CRF 31; the quality score is 3.42. it is fine.';
    const tokenizer = new TextTokenizer(buildWordPieceTokenizer([text], { vocabSize: 200 }));
    expect(tokenizer.tokenize('H.264')).toEqual(['h', '.', '264']);
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text.toLowerCase());
    expect(joinSplitPunctuation('it was re - encoded with h. 264 ; crf 31. its score is 3. 42 : fine')).toBe('it was re-encoded with h.264; crf 31. its score is 3.42: fine');
  });

  it('keeps the most frequent words when the vocabulary is tight', async () => {
    const text = ['the video the video the', 'Video is blurry', 'is'];
    const chars = new Set(text.join('').toLowerCase().replace(/\s/g, '')).size;
    const files = buildWordPieceTokenizer(text, { vocabSize: 4 + 2 * chars + 3 });
    const dir = join(tmp.dir, 'tight');
    await saveTokenizer(dir, files);
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.tokenToId('the')).not.toBeNull();
    expect(tokenizer.tokenToId('video')).not.toBeNull();
    expect(tokenizer.tokenToId('is')).not.toBeNull();
    expect(tokenizer.tokenToId('blurry')).toBeNull();
    expect(tokenizer.vocabSize).toBe(4 + 2 * chars + 3);
  });

  it('loads a hand-written byte-level BPE tokenizer.json (the format of most HF LLM tokenizers)', async () => {
    const dir = join(tmp.dir, 'bpe');
    const vocab = { '<bos>': 0, '<eos>': 1, a: 2, b: 3, 'Ġ': 4, ab: 5, 'Ġab': 6 };
    await saveTokenizer(dir, {
      tokenizerJson: {
        version: '1.0',
        added_tokens: [
          { id: 0, content: '<bos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
          { id: 1, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        ],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: null,
        decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        model: { type: 'BPE', vocab, merges: ['a b', 'Ġ ab'], unk_token: null, fuse_unk: false, byte_fallback: false },
      },
      tokenizerConfig: { bos_token: '<bos>', eos_token: '<eos>' },
    });
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.encode('ab ab', { addBos: true })).toEqual([0, 5, 6]);
    expect(tokenizer.decode([5, 6, 2])).toBe('ab aba');
    expect(tokenizer.padTokenId).toBeNull();
  });

  it('rejects a vocabulary too small for the characters, and a missing file', async () => {
    expect(() => buildWordPieceTokenizer(corpus, { vocabSize: 10 })).toThrow(DecoderError);
    expect(() => buildWordPieceTokenizer(corpus, { vocabSize: 10 })).toThrow(/vocabSize 10 cannot hold 4 special tokens and \d+ characters/);
    await expect(loadTokenizer(join(tmp.dir, 'absent'))).rejects.toThrow(/tokenizer path '.*absent' does not exist/);
  });
});
