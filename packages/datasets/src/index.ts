export { DatasetError } from './errors.js';
export type { DatasetErrorCode } from './errors.js';
export { Prng, mixSeed, hashString } from './prng.js';
export { writeFileAtomic } from './atomic-write.js';
export { MOS_SCALES, VQLM_MOS_SCALE, getMosScale, normalizeMos, denormalizeMos, mosLevel } from './mos-scale.js';
export type { MosScale } from './mos-scale.js';
export {
  recipeKinds,
  variantRecipeSchema,
  manifestEntrySchema,
  manifestCsvColumns,
  validateManifest,
  parseManifestJsonl,
  formatManifestJsonl,
  readManifestJsonl,
  writeManifestJsonl,
  parseManifestCsv,
  formatManifestCsv,
  readManifestCsv,
  writeManifestCsv,
  readManifest,
} from './manifest.js';
export type { ManifestEntry, VariantRecipe } from './manifest.js';
export { ladderKey } from './manifest.js';
export type { LabelLoader, LabelFormat, RawLabelRow } from './labels/label-loader.js';
export { doverLinesFormat, csvLabelFormat } from './labels/formats.js';
export type { DoverLinesOptions, CsvLabelOptions } from './labels/formats.js';
export {
  lsvqTrainLoader,
  lsvqTestLoader,
  lsvqTest1080pLoader,
  konvid1kLoader,
  konvid1kDoverLoader,
  liveVqcLoader,
  liveVqcDoverLoader,
  youtubeUgcLoader,
  youtubeUgcDoverLoader,
  liveYtGamingLoader,
  vqlmCsvLoader,
  defaultLabelLoaders,
  LabelLoaderRegistry,
  createLabelLoaderRegistry,
} from './labels/loaders.js';
export { parseLabels, loadLabels } from './labels/load-labels.js';
export type { LabelSet, LoadLabelsOptions, MissingVideo } from './labels/load-labels.js';
export { assignSplits, splitBySource, assertNoSourceLeak } from './splits.js';
export type { SplitAssignment } from './splits.js';
export type { SplitName, SplitOptions } from './splits.js';
export { DEFAULT_CRF_RANGE, crfLevels, parseCrfRange, h264Recipes, variantId, expandLadder, flipSamples, isDistortedVariant } from './ladder.js';
export type { CrfRange, FlipUnit, LadderFlipSample } from './ladder.js';
export { pseudoMosFromVmaf, nonIncreasing, assignPseudoMos } from './pseudo-mos.js';
export type { PseudoMosOptions } from './pseudo-mos.js';
export { PairSampler } from './pair-sampler.js';
export type {
  PairSamplerOptions,
  PairSamplerState,
  SampleBatch,
  SampleItem,
  SingleItem,
  PairItem,
} from './pair-sampler.js';
export { DescriptionStore, describeRecipe, describeVariant, descriptionRecordSchema, descriptionOrigins } from './descriptions.js';
export type { DescriptionRecord, DescribeInput } from './descriptions.js';
export { buildCorpus, readVariantTimings, VIDEO_EXTENSIONS } from './corpus-builder.js';
export type {
  BuildCorpusOptions,
  CorpusProgress,
  CorpusResult,
  SkippedSource,
  FailedItem,
  SourceLabel,
  VariantTiming,
} from './corpus-builder.js';
