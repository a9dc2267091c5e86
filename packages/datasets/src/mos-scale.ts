import { DatasetError } from './errors.js';

/**
 * A MOS scale as published by a dataset. vqlm's one internal scale is
 * `'1-5'` (the ACR scale: 1 bad, 2 poor, 3 fair, 4 good, 5 excellent); every
 * other scale is mapped onto it linearly, the original value being kept.
 */
export interface MosScale {
  readonly id: string;
  readonly min: number;
  readonly max: number;
}

/** The scales the loaders know: `'1-5'` (KoNViD-1k, YouTube-UGC), `'0-100'` (LSVQ, LIVE-VQC, LIVE-YT-Gaming), `'0-1'`. */
export const MOS_SCALES: Readonly<Record<string, MosScale>> = Object.freeze({
  '1-5': { id: '1-5', min: 1, max: 5 },
  '0-100': { id: '0-100', min: 0, max: 100 },
  '0-1': { id: '0-1', min: 0, max: 1 },
});

/** The id of vqlm's internal MOS scale. */
export const VQLM_MOS_SCALE = '1-5';

/** Looks a scale up by id; throws `E_LABEL_SCALE` for an unknown one. */
export function getMosScale(id: string): MosScale {
  const scale = MOS_SCALES[id];
  if (!scale) {
    throw new DatasetError(
      'E_LABEL_SCALE',
      `unknown MOS scale '${id}' (known: ${Object.keys(MOS_SCALES).join(', ')})`,
    );
  }
  return scale;
}

/**
 * Maps `value` on `scale` linearly onto vqlm's 1–5 scale:
 * `1 + 4 · (value − min) / (max − min)`. Values outside the scale throw.
 */
export function normalizeMos(value: number, scaleId: string): number {
  const scale = getMosScale(scaleId);
  if (!Number.isFinite(value) || value < scale.min || value > scale.max) {
    throw new DatasetError('E_LABEL_NUMBER', `MOS ${value} is outside the scale ${scale.id}`);
  }
  return 1 + (4 * (value - scale.min)) / (scale.max - scale.min);
}

/** Maps a 1–5 MOS back onto `scale` (inverse of {@link normalizeMos}). */
export function denormalizeMos(value: number, scaleId: string): number {
  const scale = getMosScale(scaleId);
  return scale.min + ((value - 1) / 4) * (scale.max - scale.min);
}

/** The ACR level word for a 1–5 MOS: bad < 1.5 ≤ poor < 2.5 ≤ fair < 3.5 ≤ good < 4.5 ≤ excellent. */
export function mosLevel(mos: number): 'bad' | 'poor' | 'fair' | 'good' | 'excellent' {
  if (mos < 1.5) return 'bad';
  if (mos < 2.5) return 'poor';
  if (mos < 3.5) return 'fair';
  if (mos < 4.5) return 'good';
  return 'excellent';
}
