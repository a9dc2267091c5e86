import { RuntimeArgumentError } from './errors.js';

/** Serialisable state of an {@link Rng}: four 32-bit words of sfc32 plus a cached normal deviate. */
export interface RngState {
  readonly algorithm: 'sfc32';
  readonly s: readonly [number, number, number, number];
  /** Second Box–Muller deviate waiting to be returned by `normal()`, or null. */
  readonly spareNormal: number | null;
}

/** A small, fast, seeded pseudo-random generator whose state can be saved and restored exactly. */
export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Standard normal deviate (mean 0, variance 1), Box–Muller. */
  normal(): number;
  /** Uniform integer in [0, maxExclusive), unbiased (rejection sampling). */
  int(maxExclusive: number): number;
  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** A copy of the current state (JSON-serialisable). */
  getState(): RngState;
  /** Restores a state from {@link Rng.getState}; the sequence then continues exactly. */
  setState(state: RngState): void;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

class Sfc32 implements Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spare: number | null = null;

  constructor(seed: number) {
    // Mix the seed's high and low 32 bits so seeds above 2^32 still differ.
    const high = Math.floor(seed / 0x100000000) >>> 0;
    const init = splitmix32((seed >>> 0) ^ Math.imul(high, 0x27d4eb2d));
    this.a = init();
    this.b = init();
    this.c = init();
    this.d = 1; // sfc32's counter
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  private nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  next(): number {
    return this.nextUint32() / 0x100000000;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x100000000) {
      throw new RuntimeArgumentError(`int: maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    const limit = 0x100000000 - (0x100000000 % maxExclusive);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % maxExclusive;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  getState(): RngState {
    return { algorithm: 'sfc32', s: [this.a, this.b, this.c, this.d], spareNormal: this.spare };
  }

  setState(state: RngState): void {
    const words = state?.s;
    if (state?.algorithm !== 'sfc32' || !Array.isArray(words) || words.length !== 4 ||
        !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RuntimeArgumentError(`setState: expected { algorithm: 'sfc32', s: four uint32 words }, got ${JSON.stringify(state)}`);
    }
    [this.a, this.b, this.c, this.d] = words;
    this.spare = typeof state.spareNormal === 'number' ? state.spareNormal : null;
  }
}

/**
 * Creates a seeded generator (sfc32, seeded through splitmix32). The same seed
 * gives the same sequence on every platform; `getState`/`setState` resume it
 * exactly (e.g. from a training checkpoint).
 * @param seed any finite integer (non-negative values up to 2^53 are distinguished)
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed) || !Number.isInteger(seed)) {
    throw new RuntimeArgumentError(`createRng: seed must be a finite integer, got ${seed}`);
  }
  return new Sfc32(seed);
}
