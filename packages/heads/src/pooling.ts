import { tf } from '@vqlm/runtime';
import { checkFloatTensor, shapeText } from './check.js';
import { HeadError } from './errors.js';

/**
 * How the tokens of one frame are reduced to one vector per branch:
 * - `mean` (default): average over the tokens (Th for context, Tl for pixel);
 * - `max`: element-wise maximum over the tokens;
 * - `first`: the first token only (a CLS-style token).
 */
export type TokenPooling = 'mean' | 'max' | 'first';

/** The pooling choices, in documentation order. */
export const TOKEN_POOLINGS: readonly TokenPooling[] = Object.freeze(['mean', 'max', 'first']);

function poolTokens(tokens: tf.Tensor, pooling: TokenPooling): tf.Tensor {
  const axis = tokens.rank - 2;
  switch (pooling) {
    case 'mean':
      return tf.mean(tokens, axis);
    case 'max':
      return tf.max(tokens, axis);
    case 'first': {
      const begin = tokens.shape.map(() => 0);
      const size = tokens.shape.map((d, i) => (i === axis ? 1 : d));
      return tf.squeeze(tf.slice(tokens, begin, size), [axis]);
    }
  }
}

/**
 * Pools the context tokens over Th and the pixel tokens over Tl, then
 * concatenates the two per-frame vectors: the input of the CP-LLM quality
 * head (§3.1.4).
 *
 * @param context context-branch tokens, shape [M, Th, D] (or [B, M, Th, D])
 * @param pixel pixel-branch tokens, shape [M, Tl, D] (or [B, M, Tl, D]); same
 *   leading dims and D as `context`, Tl may differ from Th
 * @param pooling {@link TokenPooling}, default `mean`
 * @returns per-frame features, shape [M, 2D] (or [B, M, 2D]): context first
 * @throws {HeadError} `E_HEAD_SHAPE` when ranks, M (or B) or D differ.
 */
export function poolFrameTokens(context: tf.Tensor, pixel: tf.Tensor, pooling: TokenPooling = 'mean'): tf.Tensor {
  const where = 'poolFrameTokens';
  const c = checkFloatTensor(where, 'context', context, [null, null, null], [null, null, null, null]);
  const lead = c.shape.slice(0, -2);
  const dim = c.shape[c.rank - 1];
  checkFloatTensor(where, 'pixel', pixel, [...lead, null, dim]);
  if (c.shape[c.rank - 2] < 1 || pixel.shape[pixel.rank - 2] < 1) {
    throw new HeadError(
      'E_HEAD_SHAPE',
      `${where}: context and pixel need at least one token, got context ${shapeText(c.shape)} and pixel ${shapeText(pixel.shape)}`,
    );
  }
  if (!TOKEN_POOLINGS.includes(pooling)) {
    throw new HeadError('E_HEAD_ARG', `${where}: pooling must be one of ${TOKEN_POOLINGS.join(', ')}, got ${String(pooling)}`);
  }
  return tf.tidy(() => tf.concat([poolTokens(context, pooling), poolTokens(pixel, pooling)], -1));
}
