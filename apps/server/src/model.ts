/** Loads the model bundle once per process. */
import { createScorer, findDefaultModel, type Scorer } from '@vqlm/models';
import { initBackend, type BackendName } from '@vqlm/runtime';

/** Raised when no bundle is given and none is found. */
export class NoModelError extends Error {
  readonly code = 'E_NO_MODEL';
  constructor(message: string) {
    super(message);
    this.name = 'NoModelError';
  }
}

/** The bundle directory: `model` when given, else `findDefaultModel()` (`VQLM_MODEL`, then `models/vqlm-tiny`). */
export function resolveModelDir(model: string | undefined): string {
  if (model !== undefined && model !== '') return model;
  const found = findDefaultModel();
  if (found === null) {
    throw new NoModelError(
      'no model bundle: --model was not given, VQLM_MODEL is not set and no models/vqlm-tiny/model.json was found above the working directory or the vqlm install; pass --model <bundle dir> or set VQLM_MODEL',
    );
  }
  return found;
}

/** Scoring engines: `auto` runs the scoring path (and the decoder, with `decoder.onnx`) in ONNX Runtime when the bundle has its ONNX exports, else tfjs. */
export const SCORING_ENGINES = ['auto', 'tfjs', 'onnx'] as const;
export type ScoringEngine = (typeof SCORING_ENGINES)[number];

/**
 * Initialises the tfjs backend (`backend`, else `VQLM_BACKEND`, else the best available) and opens
 * a scorer on the bundle with `engine` (default `auto`).
 */
export async function loadScorer(modelDir: string, options: { backend?: BackendName; engine?: ScoringEngine; log?: (line: string) => void } = {}): Promise<Scorer> {
  await initBackend({ ...(options.backend ? { backend: options.backend } : {}), log: options.log ?? (() => undefined) });
  return createScorer(modelDir, { engine: options.engine ?? 'auto' });
}
