import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { DecoderError } from './decoder-error.js';

/** The two HF files that define a tokenizer. */
export interface TokenizerFiles {
  /** Contents of `tokenizer.json`. */
  tokenizerJson: Record<string, unknown>;
  /** Contents of `tokenizer_config.json`. */
  tokenizerConfig: Record<string, unknown>;
}

/** Encode options of {@link TextTokenizer.encode}. */
export interface EncodeOptions {
  /** Prepend the BOS token (default false). */
  addBos?: boolean;
  /** Append the EOS token (default false). */
  addEos?: boolean;
}

function specialName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

/**
 * Undoes the spaces a punctuation-splitting tokenizer's decoder leaves (after HF's cleanup, which
 * already joins `.`, `,`, `?`, `!` to the word before): no space before `:` or `;`, none around a
 * hyphen between two letters or digits (`re - encoded` → `re-encoded`), and none after a dot
 * that follows a single letter or a digit and precedes a digit (`h. 264` → `h.264`,
 * `3. 42` → `3.42`). A sentence ending in a number before another number would be joined too;
 * generated quality descriptions do not have one.
 */
export function joinSplitPunctuation(text: string): string {
  return text
    .replace(/ ([:;])/g, '$1')
    .replace(/([\p{L}\p{N}]) - (?=[\p{L}\p{N}])/gu, '$1-')
    .replace(/(\b\p{L}|\p{N})\. (?=\p{N})/gu, '$1.');
}

/**
 * A text tokenizer backed by HF's `@huggingface/tokenizers` (any `tokenizer.json`: BPE, Unigram,
 * WordPiece), with the special tokens named in `tokenizer_config.json`.
 */
export class TextTokenizer {
  readonly files: TokenizerFiles;
  private readonly tokenizer: Tokenizer;
  /** Number of token ids (vocabulary plus added tokens); the decoder's V must be at least this. */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;

  /** @throws DecoderError `TOKENIZER` when the library rejects the files. */
  constructor(files: TokenizerFiles) {
    this.files = files;
    try {
      this.tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
    } catch (error) {
      throw new DecoderError('TOKENIZER', `tokenizer.json could not be loaded: ${(error as Error).message}`);
    }
    const vocab = this.tokenizer.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const idOf = (key: string): number | null => {
      const name = specialName(files.tokenizerConfig[key]);
      return name === null ? null : (this.tokenizer.token_to_id(name) ?? null);
    };
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    this.padTokenId = idOf('pad_token');
    this.unkTokenId = idOf('unk_token');
  }

  /** Text → token ids (no special tokens unless asked). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (options.addBos) {
      if (this.bosTokenId === null) throw new DecoderError('TOKENIZER', 'encode: addBos requested but the tokenizer has no bos_token');
      ids.unshift(this.bosTokenId);
    }
    if (options.addEos) {
      if (this.eosTokenId === null) throw new DecoderError('TOKENIZER', 'encode: addEos requested but the tokenizer has no eos_token');
      ids.push(this.eosTokenId);
    }
    return ids;
  }

  /**
   * Token ids → text; special tokens are dropped unless `skipSpecialTokens` is false. A tokenizer
   * that splits words at punctuation (`BertPreTokenizer`, as {@link buildWordPieceTokenizer}'s)
   * cannot know where there were spaces; its text gets {@link joinSplitPunctuation}.
   */
  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const text = this.tokenizer.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? true });
    return this.splitsPunctuation ? joinSplitPunctuation(text) : text;
  }

  private get splitsPunctuation(): boolean {
    const pre = this.files.tokenizerJson.pre_tokenizer as { type?: unknown } | null | undefined;
    return pre?.type === 'BertPreTokenizer';
  }

  /** The string pieces of `text` (for inspection). */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  /** The id of a token string, or null. */
  tokenToId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }

  /** The token string of an id, or null. */
  idToToken(id: number): string | null {
    return this.tokenizer.id_to_token(id) ?? null;
  }
}

/**
 * Loads an HF tokenizer: a directory with `tokenizer.json` (and optionally `tokenizer_config.json`),
 * or the path of a `tokenizer.json` (its config is read beside it when present).
 * @throws DecoderError `CHECKPOINT_NOT_FOUND` / `TOKENIZER` naming the file.
 */
export async function loadTokenizer(path: string): Promise<TextTokenizer> {
  let dir: string;
  let file: string;
  try {
    const isDir = (await stat(path)).isDirectory();
    dir = isDir ? path : dirname(path);
    file = isDir ? join(path, 'tokenizer.json') : path;
  } catch {
    throw new DecoderError('CHECKPOINT_NOT_FOUND', `tokenizer path '${path}' does not exist`);
  }
  const readJson = async (p: string, optional: boolean): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch {
      if (optional) return {};
      throw new DecoderError('CHECKPOINT_NOT_FOUND', `tokenizer file '${p}' cannot be read`);
    }
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new DecoderError('TOKENIZER', `tokenizer file '${p}' is not valid JSON: ${(error as Error).message}`);
    }
  };
  return new TextTokenizer({
    tokenizerJson: await readJson(file, false),
    tokenizerConfig: await readJson(join(dir, 'tokenizer_config.json'), true),
  });
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `dir`. */
export async function saveTokenizer(dir: string, files: TokenizerFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), `${JSON.stringify(files.tokenizerJson, null, 2)}\n`);
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(files.tokenizerConfig, null, 2)}\n`);
}

/** Options of {@link buildWordPieceTokenizer}. */
export interface BuildTokenizerOptions {
  /** Upper bound on the number of ids (special tokens + characters + words). Default 1000. */
  vocabSize?: number;
  /** A word enters the vocabulary only if it occurs at least this often. Default 1. */
  minFrequency?: number;
  /** Lower-case the text before splitting. Default true. */
  lowercase?: boolean;
  /** Extra special tokens (e.g. `<image>`), after `<pad> <eos> <bos> <unk>`. */
  extraSpecialTokens?: string[];
}

/** Special tokens of built tokenizers, in Gemma's id order. */
export const SPECIAL_TOKENS = Object.freeze({ pad: '<pad>', eos: '<eos>', bos: '<bos>', unk: '<unk>' });

/**
 * Builds a small WordPiece tokenizer from a text corpus, for the small default model trained in
 * this repository. Procedure: normalise (NFC, optional lower-case) and pre-tokenise
 * (`BertPreTokenizer`: whitespace and punctuation) with the library itself; the vocabulary is the
 * special tokens (`<pad>`=0, `<eos>`=1, `<bos>`=2, `<unk>`=3, then extras), every character seen
 * both word-initial and as a `##` continuation, then whole words by descending frequency (ties in
 * code-point order) while they fit in `vocabSize`. WordPiece's greedy longest-match then encodes a
 * known word as one id and anything else as characters, so no seen character is ever `<unk>`.
 * The result is a standard `tokenizer.json` that {@link loadTokenizer} (or HF `tokenizers`) reads.
 * @throws DecoderError `INVALID_ARGUMENT` when `vocabSize` cannot hold the specials and characters.
 */
export function buildWordPieceTokenizer(corpus: readonly string[], options: BuildTokenizerOptions = {}): TokenizerFiles {
  const vocabSize = options.vocabSize ?? 1000;
  const minFrequency = options.minFrequency ?? 1;
  const lowercase = options.lowercase ?? true;
  const specials = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.unk, ...(options.extraSpecialTokens ?? [])];
  const normalizer = { type: 'Sequence', normalizers: lowercase ? [{ type: 'NFC' }, { type: 'Lowercase' }] : [{ type: 'NFC' }] };
  const preTokenizer = { type: 'BertPreTokenizer' };
  const skeleton = (vocab: Record<string, number>): Record<string, unknown> => ({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer,
    pre_tokenizer: preTokenizer,
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: SPECIAL_TOKENS.unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  });
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    unk_token: SPECIAL_TOKENS.unk,
    additional_special_tokens: options.extraSpecialTokens ?? [],
    clean_up_tokenization_spaces: true,
    model_max_length: 8192,
  };
  // Split with the library's own normaliser and pre-tokeniser so training and use agree.
  const specialVocab = Object.fromEntries(specials.map((s, i) => [s, i]));
  const splitter = new Tokenizer(skeleton(specialVocab), tokenizerConfig);
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const text of corpus) {
    const normalized = splitter.normalizer ? splitter.normalizer.normalize(text) : text;
    const words = splitter.pre_tokenizer ? splitter.pre_tokenizer.pre_tokenize(normalized) : normalized.split(/\s+/);
    for (const word of words) {
      if (word.length === 0) continue;
      counts.set(word, (counts.get(word) ?? 0) + 1);
      for (const ch of word) chars.add(ch);
    }
  }
  const vocab: Record<string, number> = { ...specialVocab };
  let next = specials.length;
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = next++;
  };
  const sortedChars = [...chars].sort();
  const needed = specials.length + 2 * sortedChars.length;
  if (needed > vocabSize) {
    throw new DecoderError('INVALID_ARGUMENT', `buildWordPieceTokenizer: vocabSize ${vocabSize} cannot hold ${specials.length} special tokens and ${sortedChars.length} characters (twice): need at least ${needed}`);
  }
  for (const ch of sortedChars) add(ch);
  for (const ch of sortedChars) add(`##${ch}`);
  const words = [...counts.entries()]
    .filter(([word, count]) => count >= minFrequency && [...word].length > 1)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [word] of words) {
    if (next >= vocabSize) break;
    add(word);
  }
  return { tokenizerJson: skeleton(vocab), tokenizerConfig };
}
