export { VideoIOError } from './errors.js';
export type { VideoIOErrorCode } from './errors.js';
export type {
  ContextViewOptions,
  CutSegmentOptions,
  DistortionKind,
  FrameTensor,
  FullReferenceMetric,
  FullReferenceOptions,
  FullReferenceResult,
  KeyFrames,
  LadderStep,
  MakeVariantsOptions,
  MetricScores,
  PatchBox,
  PixelView,
  PixelViewOptions,
  ProbeOptions,
  ProgressEvent,
  RunOptions,
  SampleKeyFramesOptions,
  SamplingStrategy,
  Variant,
  VariantRecipe,
  VideoInfo,
} from './types.js';
export { resolveBinaries } from './binaries.js';
export type { FfmpegBinaries } from './binaries.js';
export { probe } from './probe.js';
export { sampleKeyFrames, keyFrameIndices } from './sample-key-frames.js';
export { sampleViews } from './sample-views.js';
export type { SampleViewsOptions, SampledViews } from './sample-views.js';
export { contextView, pixelView, pixelViewSize, patchLayout } from './views.js';
export {
  h264Ladder,
  vp9Ladder,
  blurLadder,
  noiseLadder,
  scaleLadder,
  recipeArgs,
} from './ladders.js';
export type { RangeSpec } from './ladders.js';
export { makeVariants } from './make-variants.js';
export { fullReference } from './full-reference.js';
export { cutSegment } from './cut-segment.js';
export { encodePng, writePng } from './png.js';
