export { MetricError } from './metric-error.js';
export type { MetricErrorCode } from './metric-error.js';
export type { NumericArray } from './validate.js';
export { srcc, krcc } from './correlation.js';
export { plcc, rmse, FIT_KINDS } from './plcc.js';
export type { FitKind, FitOptions } from './plcc.js';
export { fitLogistic, initialLogisticBeta } from './logistic.js';
export type { FitLogisticOptions, LogisticFit, LogisticParams } from './logistic.js';
export { summary } from './summary.js';
export type { MetricSummary } from './summary.js';
export { flipRate, flipRateByDiff, CP_LLM_FLIP_DIFFS } from './flip-rate.js';
export type { FlipSample, FlipTies, FlipRateOptions, FlipBucket } from './flip-rate.js';
export { bootstrapCI } from './bootstrap.js';
export type { BootstrapOptions, BootstrapInterval, MetricName, PairedMetric } from './bootstrap.js';
export { compareCorrelations, pairedTTest, wilcoxonSignedRank } from './significance.js';
export type {
  Alternative,
  CompareCorrelationsOptions,
  CorrelationComparison,
  PairedTTestResult,
  WilcoxonOptions,
  WilcoxonResult,
} from './significance.js';
