import { createRng, tf, type Rng } from '@vqlm/runtime';
import { DecoderError, formatShape } from './decoder-error.js';
import type { GemmaDecoder, KvCache } from './gemma-decoder.js';

/** One generated token, handed to {@link GenerateOptions.onToken}. */
export interface GeneratedToken {
  /** Batch row. */
  row: number;
  /** 0-based index of the token among this row's generated tokens. */
  step: number;
  tokenId: number;
}

/** Options of {@link generate}. B = batch, P = prefix length, D = hidden size. */
export interface GenerateOptions {
  /** Prefix embeddings `[B, P, D]` (visual tokens, prompt), attended bidirectionally. */
  prefixEmbeddings?: tf.Tensor3D | null;
  /** `[B, P]`: false hides that prefix position. */
  prefixMask?: tf.Tensor2D | boolean[][] | null;
  /** First output tokens `[B, T0]`, T0 ≥ 1 (e.g. `[[bos]]`); generation continues after them. */
  startTokenIds: number[][];
  /** Generate at most this many tokens per row. */
  maxNewTokens: number;
  /** Token ids that end a row (kept as its last token). */
  stopTokens?: number[];
  /** 0 (default) = greedy; > 0 samples from `softmax(logits / temperature)`. */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 = off). */
  topK?: number;
  /** Sample only from the smallest set whose probability reaches p (1 = off). */
  topP?: number;
  /**
   * Divides the positive logits (multiplies the negative ones) of every token already in the row
   * (start tokens included) by this factor before choosing (CTRL's penalty, as `repetition_penalty`
   * in Hugging Face transformers). 1 (default) = off.
   */
  repetitionPenalty?: number;
  /** Never repeat an n-gram of this many tokens within a row (start tokens included). 0 (default) = off. */
  noRepeatNgramSize?: number;
  /** Seed of the sampler (runtime's seeded RNG); the same seed gives the same tokens. Default 0. */
  seed?: number;
  /** Streaming callback, once per token per row; return `false` to stop the whole generation. */
  onToken?: (token: GeneratedToken) => void | boolean;
  /** Reuse keys/values (default true). false recomputes the whole sequence each step (reference path). */
  useCache?: boolean;
}

/** Result of {@link generate}. */
export interface GenerateResult {
  /** `[B][≤ maxNewTokens]` generated ids per row (stop token included when hit). */
  tokens: number[][];
  /** Why each row ended. */
  finishReasons: ('stop' | 'length' | 'callback')[];
}

/**
 * Chooses the next token from one row of logits `[V]`: argmax when `temperature` is 0, else a
 * sample after temperature, top-k and top-p filtering.
 */
export function sampleToken(logits: Float32Array, options: { temperature?: number; topK?: number; topP?: number }, rng: Rng): number {
  const temperature = options.temperature ?? 0;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i += 1) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  const topK = options.topK ?? 0;
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  const topP = options.topP ?? 1;
  let count = kept.length;
  if (topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < kept.length; i += 1) {
      cumulative += weights[i] / total;
      if (cumulative >= topP) {
        count = i + 1;
        break;
      }
    }
  }
  const mass = weights.slice(0, count).reduce((a, b) => a + b, 0);
  let u = rng.next() * mass;
  for (let i = 0; i < count; i += 1) {
    u -= weights[i];
    if (u < 0) return kept[i];
  }
  return kept[count - 1];
}

/**
 * Applies {@link GenerateOptions.repetitionPenalty} and {@link GenerateOptions.noRepeatNgramSize}
 * to one row of logits `[V]` in place, given the row's tokens so far. A banned token gets −∞.
 */
export function penalizeRepeats(logits: Float32Array, sequence: readonly number[], options: { repetitionPenalty?: number; noRepeatNgramSize?: number }): void {
  const penalty = options.repetitionPenalty ?? 1;
  if (penalty !== 1) {
    for (const id of new Set(sequence)) {
      if (id < 0 || id >= logits.length) continue;
      logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
    }
  }
  const n = options.noRepeatNgramSize ?? 0;
  if (n > 0 && sequence.length >= n - 1) {
    const start = sequence.length - (n - 1);
    for (let i = 0; i + n <= sequence.length; i += 1) {
      let same = true;
      for (let j = 0; j < n - 1 && same; j += 1) same = sequence[i + j] === sequence[start + j];
      if (same && sequence[i + n - 1] < logits.length) logits[sequence[i + n - 1]] = -Infinity;
    }
  }
}

function checkOptions(options: GenerateOptions, vocabSize: number): void {
  const { startTokenIds, maxNewTokens } = options;
  if (!Array.isArray(startTokenIds) || startTokenIds.length === 0 || startTokenIds.some((r) => !Array.isArray(r) || r.length === 0 || r.length !== startTokenIds[0].length)) {
    throw new DecoderError('SHAPE_MISMATCH', 'generate: startTokenIds must be a rectangular [B, T0] array with B, T0 ≥ 1');
  }
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new DecoderError('INVALID_ARGUMENT', `generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  const t = options.temperature ?? 0;
  if (!(t >= 0) || !Number.isFinite(t)) throw new DecoderError('INVALID_ARGUMENT', `generate: temperature must be ≥ 0, got ${t}`);
  const k = options.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new DecoderError('INVALID_ARGUMENT', `generate: topK must be a non-negative integer, got ${k}`);
  const p = options.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new DecoderError('INVALID_ARGUMENT', `generate: topP must be in (0, 1], got ${p}`);
  const penalty = options.repetitionPenalty ?? 1;
  if (!(penalty > 0) || !Number.isFinite(penalty)) throw new DecoderError('INVALID_ARGUMENT', `generate: repetitionPenalty must be a finite number > 0, got ${penalty}`);
  const n = options.noRepeatNgramSize ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new DecoderError('INVALID_ARGUMENT', `generate: noRepeatNgramSize must be a non-negative integer, got ${n}`);
  for (const id of options.stopTokens ?? []) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new DecoderError('INVALID_ARGUMENT', `generate: stop token ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  const prefix = options.prefixEmbeddings;
  if (prefix && prefix.shape[0] !== startTokenIds.length) {
    throw new DecoderError('SHAPE_MISMATCH', `generate: prefixEmbeddings ${formatShape(prefix.shape)} and startTokenIds [${startTokenIds.length}, ${startTokenIds[0].length}] disagree on B`);
  }
}

/** The last position's logits of each row, `[B][V]`, read back to the CPU. The tensor is disposed. */
function lastLogits(logits: tf.Tensor3D): Float32Array[] {
  const [B, T, V] = logits.shape;
  const last = tf.tidy(() => tf.slice(logits, [0, T - 1, 0], [B, 1, V]));
  const data = last.dataSync() as Float32Array;
  last.dispose();
  logits.dispose();
  return Array.from({ length: B }, (_, b) => data.slice(b * V, (b + 1) * V));
}

/**
 * What a generation loop asks its model for, once before the first token and once after each:
 * the last position's logits `[B][V]` of every row after `sequences` (the start tokens, the tokens
 * chosen so far, and for a row that has stopped its stop token repeated to the common length).
 * `next` holds the token just chosen for each row (null for the first request).
 */
export interface LogitsRequest {
  readonly next: readonly number[] | null;
  readonly sequences: readonly (readonly number[])[];
}

/**
 * The token-choosing loop of {@link generate} and {@link generateAsync}, apart from the model: it
 * yields a {@link LogitsRequest} and is resumed with the logits rows.
 */
function* generationLoop(options: GenerateOptions): Generator<LogitsRequest, GenerateResult, Float32Array[]> {
  const B = options.startTokenIds.length;
  const rng = createRng(options.seed ?? 0);
  const stop = new Set(options.stopTokens ?? []);
  const tokens: number[][] = Array.from({ length: B }, () => []);
  const reasons: ('stop' | 'length' | 'callback')[] = new Array<'length'>(B).fill('length');
  const done = new Array<boolean>(B).fill(false);
  if (options.maxNewTokens === 0) return { tokens, finishReasons: reasons };
  const penalize = (options.repetitionPenalty ?? 1) !== 1 || (options.noRepeatNgramSize ?? 0) > 0;
  let rows = yield { next: null, sequences: options.startTokenIds };
  for (let step = 0; step < options.maxNewTokens; step += 1) {
    const next: number[] = [];
    let stopAll = false;
    for (let b = 0; b < B; b += 1) {
      if (done[b]) {
        next.push(tokens[b][tokens[b].length - 1]);
        continue;
      }
      if (penalize) penalizeRepeats(rows[b], [...options.startTokenIds[b], ...tokens[b]], options);
      const id = sampleToken(rows[b], options, rng);
      next.push(id);
      tokens[b].push(id);
      if (options.onToken?.({ row: b, step, tokenId: id }) === false) stopAll = true;
      if (stop.has(id)) {
        done[b] = true;
        reasons[b] = 'stop';
      }
    }
    if (stopAll) {
      for (let b = 0; b < B; b += 1) if (!done[b]) reasons[b] = 'callback';
      break;
    }
    if (done.every(Boolean) || step === options.maxNewTokens - 1) break;
    const sequences = options.startTokenIds.map((start, b) => [...start, ...tokens[b], ...(done[b] ? new Array<number>(step + 1 - tokens[b].length).fill(next[b]) : [])]);
    rows = yield { next, sequences };
  }
  return { tokens, finishReasons: reasons };
}

/**
 * Autoregressive generation after a prefix: greedy or sampled (temperature, top-k, top-p, seeded),
 * with optional repetition penalty and n-gram blocking, a KV cache, stop tokens, a token limit and a per-token callback. Leaves no tensors behind.
 * Rows that stop early are fed their stop token until every row is done (their output is cut).
 */
export function generate(decoder: GemmaDecoder, options: GenerateOptions): GenerateResult {
  checkOptions(options, decoder.config.vocabSize);
  const useCache = options.useCache ?? true;
  const base = { prefixEmbeddings: options.prefixEmbeddings ?? null, prefixMask: options.prefixMask ?? null };
  let cache: KvCache | null = null;
  const loop = generationLoop(options);
  try {
    for (let request = loop.next(); ; ) {
      if (request.done) return request.value;
      const { next, sequences } = request.value;
      let logits: tf.Tensor3D;
      if (next === null && useCache) {
        const started = decoder.prefill({ ...base, tokenIds: options.startTokenIds });
        cache = started.cache;
        logits = started.logits;
      } else if (next !== null && cache !== null) {
        logits = decoder.decodeStep(cache, next.map((id) => [id]));
      } else {
        logits = decoder.forward({ ...base, tokenIds: sequences.map((row) => [...row]) });
      }
      request = loop.next(lastLogits(logits));
    }
  } finally {
    cache?.dispose();
  }
}

/**
 * {@link generate} over any model that gives next-token logits asynchronously (e.g. a decoder in
 * ONNX Runtime): `logits` is called with the whole sequence of each row every step (no cache) and
 * returns the last position's logits `[B][V]`. The options are those of {@link generate} except
 * `prefixEmbeddings`, `prefixMask` and `useCache`, which belong to the model.
 */
export async function generateAsync(logits: (request: LogitsRequest) => Promise<Float32Array[]>, vocabSize: number, options: Omit<GenerateOptions, 'prefixEmbeddings' | 'prefixMask' | 'useCache'>): Promise<GenerateResult> {
  checkOptions(options, vocabSize);
  const loop = generationLoop(options);
  for (let request = loop.next(); ; ) {
    if (request.done) return request.value;
    const rows = await logits(request.value);
    if (rows.length !== options.startTokenIds.length || rows.some((row) => row.length !== vocabSize)) {
      throw new DecoderError('SHAPE_MISMATCH', `generateAsync: expected logits [${options.startTokenIds.length}][${vocabSize}], got [${rows.length}][${rows[0]?.length ?? 0}]`);
    }
    request = loop.next(rows);
  }
}
