import { DatasetError } from './errors.js';

/**
 * A tiny seeded pseudo-random generator (mulberry32, 32-bit state). Its whole
 * state is one unsigned integer, so a sampler can save and restore it exactly.
 * Kept here rather than shared so that `@vqlm/datasets` never pulls in tfjs.
 */
export class Prng {
  private s: number;

  /** @param seed any integer; the same seed gives the same sequence. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new DatasetError('E_ARGUMENT', `seed must be a finite number, got ${String(seed)}`);
    }
    this.s = seed >>> 0;
  }

  /** The current state; `Prng.fromState(p.state)` continues the same sequence. */
  get state(): number {
    return this.s;
  }

  /** A generator that continues from a saved {@link Prng.state}. */
  static fromState(state: number): Prng {
    return new Prng(state);
  }

  /** Next float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Next integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new DatasetError('E_ARGUMENT', `n must be a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** A random permutation of `0..n-1` (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
    return out;
  }

  /** Fisher–Yates shuffle of a copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
    return out;
  }
}

/** Mixes integers into one 32-bit seed (order matters), e.g. `(seed, epoch)`. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

/** FNV-1a hash of a string to 32 bits (stable seeds from ids). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
