import { HeadError } from './errors.js';

/** Lower and upper end of the MOS scale that calibrated scores live on. */
export const MOS_RANGE: readonly [number, number] = Object.freeze<[number, number]>([1, 5]);

/** `mos = slope · raw + intercept`, clamped to [1, 5]; slope > 0. */
export interface LinearCalibration {
  readonly kind: 'linear';
  readonly slope: number;
  readonly intercept: number;
}

/**
 * The 4-parameter logistic of VQEG, increasing:
 * `mos = bottom + (top − bottom) / (1 + exp(−(raw − midpoint) / scale))`,
 * clamped to [1, 5]; top > bottom, scale > 0.
 */
export interface LogisticCalibration {
  readonly kind: 'logistic4';
  readonly top: number;
  readonly bottom: number;
  readonly midpoint: number;
  readonly scale: number;
}

/**
 * A monotone increasing map from a head's raw output to the 1–5 MOS scale.
 * Plain JSON: a model bundle stores it in `model.json` as is.
 */
export type Calibration = LinearCalibration | LogisticCalibration;

/** The calibration of an untrained model: raw scores are taken as MOS (then clamped). */
export const IDENTITY_CALIBRATION: LinearCalibration = Object.freeze({ kind: 'linear', slope: 1, intercept: 0 });

/** Options of {@link fitCalibration}. */
export interface FitCalibrationOptions {
  /** `logistic4` (default; needs ≥ 4 distinct raw values) or `linear` (≥ 2). */
  readonly kind?: Calibration['kind'];
  /** Iteration cap of the Levenberg–Marquardt fit; default 200. */
  readonly maxIterations?: number;
}

const clampMos = (v: number): number => Math.min(MOS_RANGE[1], Math.max(MOS_RANGE[0], v));

function checkPairs(raw: readonly number[], mos: readonly number[], minDistinct: number): void {
  const where = 'fitCalibration';
  if (!Array.isArray(raw) || !Array.isArray(mos)) {
    throw new HeadError('E_CALIBRATION', `${where}: raw and mos must be arrays of numbers`);
  }
  if (raw.length !== mos.length) {
    throw new HeadError('E_CALIBRATION', `${where}: raw has ${raw.length} values but mos has ${mos.length}`);
  }
  const values: unknown[] = [...(raw as unknown[]), ...(mos as unknown[])];
  const bad = values.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0) {
    const name = bad < raw.length ? `raw[${bad}]` : `mos[${bad - raw.length}]`;
    throw new HeadError('E_CALIBRATION', `${where}: ${name} is not a finite number`);
  }
  const distinct = new Set(raw).size;
  if (distinct < minDistinct) {
    throw new HeadError('E_CALIBRATION', `${where}: needs at least ${minDistinct} distinct raw values, got ${distinct}`);
  }
}

function fitLinear(raw: readonly number[], mos: readonly number[]): LinearCalibration {
  const n = raw.length;
  const mx = raw.reduce((a, b) => a + b, 0) / n;
  const my = mos.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (raw[i] - mx) * (mos[i] - my);
    sxx += (raw[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  if (!(slope > 0)) {
    throw new HeadError(
      'E_CALIBRATION',
      `fitCalibration: raw scores do not increase with MOS (least-squares slope ${slope}); no increasing calibration fits`,
    );
  }
  return { kind: 'linear', slope, intercept: my - slope * mx };
}

/** Solves the 4×4 system a·x = b by Gaussian elimination with partial pivoting; null if singular. */
function solve4(a: number[][], b: number[]): number[] | null {
  const m = a.map((row, i) => [...row, b[i]]);
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < 1e-300) return null;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let c = r + 1; c < n; c++) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return x;
}

/**
 * Levenberg–Marquardt on p = (top, bottom, midpoint, log scale) over raw
 * values standardised to mean 0, std 1 (for conditioning), then mapped back.
 */
function fitLogistic(raw: readonly number[], mos: readonly number[], maxIterations: number): LogisticCalibration {
  const n = raw.length;
  const mean = raw.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(raw.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  const x = raw.map((v) => (v - mean) / std);
  const model = (p: readonly number[], xi: number): { f: number; grad: number[] } => {
    const [top, bottom, mid, logScale] = p;
    const z = (xi - mid) / Math.exp(logScale);
    const s = 1 / (1 + Math.exp(-z));
    const ds = (top - bottom) * s * (1 - s);
    return { f: bottom + (top - bottom) * s, grad: [s, 1 - s, -ds / Math.exp(logScale), -ds * z] };
  };
  const sse = (p: readonly number[]): number => x.reduce((a, xi, i) => a + (model(p, xi).f - mos[i]) ** 2, 0);
  let p = [Math.max(...mos), Math.min(...mos), 0, 0];
  let cost = sse(p);
  let lambda = 1e-3;
  for (let it = 0; it < maxIterations; it++) {
    const jtj = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
    const jtr = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const { f, grad } = model(p, x[i]);
      const r = f - mos[i];
      for (let a = 0; a < 4; a++) {
        jtr[a] += grad[a] * r;
        for (let b = 0; b < 4; b++) jtj[a][b] += grad[a] * grad[b];
      }
    }
    let improved = false;
    while (lambda < 1e12) {
      const damped = jtj.map((row, a) => row.map((v, b) => (a === b ? v + lambda * (v + 1e-12) : v)));
      const step = solve4(damped, jtr.map((v) => -v));
      const candidate = step === null ? null : p.map((v, a) => v + step[a]);
      const candidateCost = candidate === null ? Infinity : sse(candidate);
      if (candidate !== null && candidateCost < cost) {
        const gain = cost - candidateCost;
        p = candidate;
        cost = candidateCost;
        lambda = Math.max(lambda / 10, 1e-12);
        improved = gain > 1e-14 * (1 + cost);
        break;
      }
      lambda *= 10;
    }
    if (!improved) break;
  }
  const [top, bottom, mid, logScale] = p;
  if (!(top > bottom) || !p.every(Number.isFinite)) {
    throw new HeadError(
      'E_CALIBRATION',
      `fitCalibration: the fitted logistic is not increasing (top ${top}, bottom ${bottom}); raw scores do not increase with MOS`,
    );
  }
  return { kind: 'logistic4', top, bottom, midpoint: mean + std * mid, scale: std * Math.exp(logScale) };
}

/**
 * Fits a monotone increasing map from raw head outputs to MOS by least
 * squares: `linear` in closed form, `logistic4` (default) by
 * Levenberg–Marquardt starting from (top, bottom) = (max, min) of MOS,
 * midpoint = mean raw, scale = std of raw.
 *
 * @param raw raw head outputs, one per video
 * @param mos the videos' MOS on the 1–5 scale, same length
 * @throws {HeadError} `E_CALIBRATION` when lengths differ, a value is not
 *   finite, there are too few distinct raw values, or raw scores do not
 *   increase with MOS (no increasing map fits).
 */
export function fitCalibration(
  raw: readonly number[],
  mos: readonly number[],
  options: FitCalibrationOptions = {},
): Calibration {
  const kind = options.kind ?? 'logistic4';
  if (kind !== 'linear' && kind !== 'logistic4') {
    throw new HeadError('E_CALIBRATION', `fitCalibration: kind must be linear or logistic4, got ${String(kind)}`);
  }
  checkPairs(raw, mos, kind === 'linear' ? 2 : 4);
  if (kind === 'linear') return fitLinear(raw, mos);
  // The slope check of the linear fit also rejects anti-correlated data up front.
  fitLinear(raw, mos);
  return fitLogistic(raw, mos, options.maxIterations ?? 200);
}

/**
 * Maps a raw head output to the 1–5 MOS scale (clamped to [1, 5]).
 * @throws {HeadError} `E_CALIBRATION` when `raw` is not a finite number.
 */
export function applyCalibration(calibration: Calibration, raw: number): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    throw new HeadError('E_CALIBRATION', `applyCalibration: raw must be a finite number, got ${String(raw)}`);
  }
  if (calibration.kind === 'linear') return clampMos(calibration.slope * raw + calibration.intercept);
  const { top, bottom, midpoint, scale } = calibration;
  return clampMos(bottom + (top - bottom) / (1 + Math.exp(-(raw - midpoint) / scale)));
}

/**
 * Validates a calibration read from JSON (e.g. a model bundle's `model.json`)
 * and returns it typed.
 * @throws {HeadError} `E_CALIBRATION` naming the bad field.
 */
export function parseCalibration(value: unknown): Calibration {
  const where = 'parseCalibration';
  if (typeof value !== 'object' || value === null) {
    throw new HeadError('E_CALIBRATION', `${where}: expected an object, got ${value === null ? 'null' : typeof value}`);
  }
  const v = value as Record<string, unknown>;
  const num = (key: string): number => {
    const x = v[key];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new HeadError('E_CALIBRATION', `${where}: ${String(v.kind)}.${key} must be a finite number, got ${JSON.stringify(x)}`);
    }
    return x;
  };
  if (v.kind === 'linear') {
    const slope = num('slope');
    if (!(slope > 0)) throw new HeadError('E_CALIBRATION', `${where}: linear.slope must be > 0 (increasing), got ${slope}`);
    return { kind: 'linear', slope, intercept: num('intercept') };
  }
  if (v.kind === 'logistic4') {
    const c: LogisticCalibration = { kind: 'logistic4', top: num('top'), bottom: num('bottom'), midpoint: num('midpoint'), scale: num('scale') };
    if (!(c.top > c.bottom)) throw new HeadError('E_CALIBRATION', `${where}: logistic4.top (${c.top}) must exceed bottom (${c.bottom})`);
    if (!(c.scale > 0)) throw new HeadError('E_CALIBRATION', `${where}: logistic4.scale must be > 0, got ${c.scale}`);
    return c;
  }
  throw new HeadError('E_CALIBRATION', `${where}: kind must be linear or logistic4, got ${JSON.stringify(v.kind)}`);
}
