import { describe, expect, it } from 'vitest';
import { expectError } from './__fixtures__/tensor-test-utils.js';
import { HeadError } from './errors.js';
import { IDENTITY_CALIBRATION, applyCalibration, fitCalibration, parseCalibration } from './calibration.js';
import type { Calibration } from './calibration.js';
import { levelFromScore } from './level-head.js';

const logistic = (x: number): number => 1.2 + (4.8 - 1.2) / (1 + Math.exp(-(x - 0.3) / 0.7));
const raw = Array.from({ length: 20 }, (_, i) => -2 + (i * 4.5) / 19);

describe('fitCalibration', () => {
  it('recovers an exact linear relation in closed form', () => {
    const c = fitCalibration([0, 1, 2, 4], [2, 2.5, 3, 4], { kind: 'linear' });
    expect(c.kind).toBe('linear');
    if (c.kind !== 'linear') return;
    expect(c.slope).toBeCloseTo(0.5, 10);
    expect(c.intercept).toBeCloseTo(2, 10);
  });

  it('recovers the parameters of a 4-parameter logistic', () => {
    const c = fitCalibration(raw, raw.map(logistic));
    expect(c.kind).toBe('logistic4');
    if (c.kind !== 'logistic4') return;
    expect(c.top).toBeCloseTo(4.8, 4);
    expect(c.bottom).toBeCloseTo(1.2, 4);
    expect(c.midpoint).toBeCloseTo(0.3, 4);
    expect(c.scale).toBeCloseTo(0.7, 4);
  });

  it('fits noisy data better than the linear map when the relation is sigmoid', () => {
    const mos = raw.map((x, i) => logistic(x) + 0.05 * Math.sin(i * 2.3));
    const sse = (c: Calibration): number => raw.reduce((a, x, i) => a + (applyCalibration(c, x) - mos[i]) ** 2, 0);
    expect(sse(fitCalibration(raw, mos))).toBeLessThan(sse(fitCalibration(raw, mos, { kind: 'linear' })));
  });

  it('rejects anti-correlated, mismatched, degenerate and non-finite data', () => {
    expectError(() => fitCalibration([1, 2, 3, 4], [4, 3, 2, 1]), HeadError, 'E_CALIBRATION', /do not increase with MOS/);
    expectError(() => fitCalibration([1, 2], [1, 2, 3], { kind: 'linear' }), HeadError, 'E_CALIBRATION', /raw has 2 values but mos has 3/);
    expectError(() => fitCalibration([1, 1, 2, 2], [1, 2, 3, 4]), HeadError, 'E_CALIBRATION', /at least 4 distinct raw values, got 2/);
    expectError(() => fitCalibration([1, NaN], [1, 2], { kind: 'linear' }), HeadError, 'E_CALIBRATION', /raw\[1\] is not a finite number/);
    expectError(() => fitCalibration([1, 2], [1, 2], { kind: 'cubic' as 'linear' }), HeadError, 'E_CALIBRATION', /kind must be linear or logistic4, got cubic/);
  });
});

describe('applyCalibration', () => {
  it('is increasing, clamps to [1, 5] and gives the level word', () => {
    const c = fitCalibration(raw, raw.map(logistic));
    const mapped = [-10, -1, 0, 0.3, 1, 10].map((x) => applyCalibration(c, x));
    for (let i = 1; i < mapped.length; i++) expect(mapped[i]).toBeGreaterThanOrEqual(mapped[i - 1]);
    expect(applyCalibration(IDENTITY_CALIBRATION, 9)).toBe(5);
    expect(applyCalibration(IDENTITY_CALIBRATION, -3)).toBe(1);
    expect(applyCalibration({ kind: 'linear', slope: 2, intercept: 1 }, 1)).toBe(3);
    expect(levelFromScore(applyCalibration(c, 0.3))).toBe('fair');
    expectError(() => applyCalibration(c, Infinity), HeadError, 'E_CALIBRATION', /raw must be a finite number, got Infinity/);
  });
});

describe('parseCalibration', () => {
  it('round-trips through JSON', () => {
    const c = fitCalibration(raw, raw.map(logistic));
    expect(parseCalibration(JSON.parse(JSON.stringify(c)))).toEqual(c);
    expect(parseCalibration({ kind: 'linear', slope: 1, intercept: 0 })).toEqual(IDENTITY_CALIBRATION);
  });

  it('names the bad field', () => {
    expectError(() => parseCalibration(null), HeadError, 'E_CALIBRATION', /expected an object, got null/);
    expectError(() => parseCalibration({ kind: 'linear', slope: 1 }), HeadError, 'E_CALIBRATION', /linear\.intercept must be a finite number, got undefined/);
    expectError(() => parseCalibration({ kind: 'linear', slope: -1, intercept: 0 }), HeadError, 'E_CALIBRATION', /slope must be > 0/);
    expectError(
      () => parseCalibration({ kind: 'logistic4', top: 1, bottom: 5, midpoint: 0, scale: 1 }),
      HeadError,
      'E_CALIBRATION',
      /top \(1\) must exceed bottom \(5\)/,
    );
    expectError(() => parseCalibration({ kind: 'spline' }), HeadError, 'E_CALIBRATION', /kind must be linear or logistic4, got "spline"/);
  });
});
