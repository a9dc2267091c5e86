import { applyCalibration, fitCalibration, IDENTITY_CALIBRATION, type Calibration } from '@vqlm/heads';

/** Share of training scores a logistic may put on its asymptotes before {@link chooseCalibration} prefers linear. */
export const MAX_SATURATED_SHARE = 0.1;

/**
 * The raw → MOS mapping of a bundle, fitted on the training scores: the 4-parameter logistic,
 * unless it converges to a near-step function that puts more than {@link MAX_SATURATED_SHARE} of
 * the training scores within 0.001 MOS of its top or bottom (then many videos would get the same
 * score, and their order would be lost); then linear; identity when neither fits.
 */
export function chooseCalibration(raw: readonly number[], mos: readonly number[]): Calibration {
  if (raw.length < 4) return IDENTITY_CALIBRATION;
  try {
    const logistic = fitCalibration(raw, mos, { kind: 'logistic4' });
    if (logistic.kind === 'logistic4') {
      const { top, bottom } = logistic;
      const saturated = raw.filter((r) => {
        const v = applyCalibration(logistic, r);
        return Math.abs(v - top) < 1e-3 || Math.abs(v - bottom) < 1e-3;
      }).length;
      if (saturated <= MAX_SATURATED_SHARE * raw.length) return logistic;
    }
  } catch {
    // no logistic fit: linear below
  }
  try {
    return fitCalibration(raw, mos, { kind: 'linear' });
  } catch {
    return IDENTITY_CALIBRATION;
  }
}
