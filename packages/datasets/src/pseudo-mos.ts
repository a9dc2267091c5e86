import { DatasetError } from './errors.js';
import { ladderKey, type ManifestEntry } from './manifest.js';

/**
 * Pseudo-MOS (1–5) of a variant from its full-reference VMAF against its
 * source, anchored on the source's MOS:
 *
 *     pseudoMos = 1 + (anchor − 1) · clamp(vmaf, 0, 100) / 100
 *
 * A variant identical to its source (VMAF 100) gets the source's MOS; VMAF 0
 * gets the bottom of the scale. `anchor` is the source's MOS on 1–5; when the
 * source has no MOS (own clips), the anchor is 5, i.e. the source is treated
 * as the best available version of its content.
 */
export function pseudoMosFromVmaf(vmaf: number, anchor = 5): number {
  if (!Number.isFinite(vmaf)) throw new DatasetError('E_ARGUMENT', `vmaf must be a finite number, got ${vmaf}`);
  if (!Number.isFinite(anchor) || anchor < 1 || anchor > 5) {
    throw new DatasetError('E_ARGUMENT', `anchor must be a MOS in [1, 5], got ${anchor}`);
  }
  const v = Math.min(100, Math.max(0, vmaf));
  return 1 + ((anchor - 1) * v) / 100;
}

/**
 * Pool-adjacent-violators: the closest (least squares) non-increasing
 * sequence to `values`. Used to make pseudo-MOS obey the ladder order.
 */
export function nonIncreasing(values: readonly number[]): number[] {
  const blocks: { sum: number; n: number }[] = [];
  for (const v of values) {
    blocks.push({ sum: v, n: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.n >= b.sum / b.n) break;
      blocks.pop();
      a.sum += b.sum;
      a.n += b.n;
    }
  }
  return blocks.flatMap((b) => Array.from({ length: b.n }, () => b.sum / b.n));
}

/** Options of {@link assignPseudoMos}. */
export interface PseudoMosOptions {
  /**
   * `vmaf-anchored` (default): value from `fullReference.vmaf` (see
   * {@link pseudoMosFromVmaf}). `order-only`: no value; the ranking loss uses
   * the ladder order alone and the MSE loss only human MOS of originals.
   */
  readonly method?: 'vmaf-anchored' | 'order-only';
  /**
   * Force pseudo-MOS to be non-increasing along each ladder (default true),
   * so the values agree with the paper's assumption that a higher CRF never
   * looks better. VMAF itself can wobble by a fraction of a point.
   */
  readonly monotone?: boolean;
}

/**
 * Gives every variant (level > 0) a pseudo-MOS. Ladders are grouped by
 * `referenceId ?? sourceId` and recipe kind and ordered by level; the anchor is the source
 * entry's (level 0) MOS when it has one, else 5.
 *
 * @returns copies of `entries` in the input order.
 */
export function assignPseudoMos(entries: readonly ManifestEntry[], options: PseudoMosOptions = {}): ManifestEntry[] {
  const method = options.method ?? 'vmaf-anchored';
  const monotone = options.monotone ?? true;
  const anchors = new Map<string, number>();
  for (const e of entries) {
    if (e.variant?.level === 0 && e.mos) anchors.set(ladderKey(e), e.mos.value);
  }
  const out = entries.map((e) => ({ ...e }));
  if (method === 'order-only') {
    for (const e of out) if (e.variant && e.variant.level > 0) e.pseudoMos = { method: 'order-only' };
    return out;
  }
  const ladders = new Map<string, ManifestEntry[]>();
  for (const e of out) {
    if (!e.variant || e.variant.level === 0) continue;
    const vmaf = e.fullReference?.vmaf;
    if (vmaf === undefined) {
      throw new DatasetError('E_ARGUMENT', `entries: '${e.id}' has no fullReference.vmaf for vmaf-anchored pseudo-MOS`);
    }
    const anchor = anchors.get(ladderKey(e)) ?? 5;
    e.pseudoMos = { method: 'vmaf-anchored', value: pseudoMosFromVmaf(vmaf, anchor), anchor };
    const key = `${ladderKey(e)}\u0000${e.variant.recipe.kind}`;
    const list = ladders.get(key) ?? [];
    list.push(e);
    ladders.set(key, list);
  }
  if (monotone) {
    for (const ladder of ladders.values()) {
      ladder.sort((a, b) => (a.variant?.level ?? 0) - (b.variant?.level ?? 0));
      const fitted = nonIncreasing(ladder.map((e) => e.pseudoMos?.value ?? 0));
      ladder.forEach((e, i) => {
        if (e.pseudoMos) e.pseudoMos = { ...e.pseudoMos, value: fitted[i] ?? 1 };
      });
    }
  }
  return out;
}
