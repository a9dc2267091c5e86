import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWordPieceTokenizer, createGemmaConfig, type TokenizerFiles } from '@vqlm/decoder-lora';
import { vitConfig } from '@vqlm/encoders';
import { CP_LLM_DEFAULTS, createCpLlmConfig, type CpLlmConfig } from './config.js';
import { ModelError } from './errors.js';

/** Names of the built-in CP-LLM sizes. */
export const CP_LLM_PRESET_NAMES = ['micro'] as const;
export type CpLlmPresetName = (typeof CP_LLM_PRESET_NAMES)[number];

/** Fields a preset lets you change. */
export interface CpLlmPresetOverrides {
  readonly m?: number;
  readonly k?: number;
  readonly seed?: number;
}

/**
 * A built-in CP-LLM size. `micro`: M = 2, K = 2, 32² context view and pixel patches, D = 16, one
 * layer everywhere, a 96-token vocabulary: for tests and examples, trains and scores in
 * milliseconds.
 * @throws ModelError `E_MODEL_CONFIG` for an unknown name.
 */
export function cpLlmPreset(name: CpLlmPresetName, overrides: CpLlmPresetOverrides = {}): CpLlmConfig {
  if (name !== 'micro') throw new ModelError('E_MODEL_CONFIG', `preset: unknown name ${String(name)}; known: ${CP_LLM_PRESET_NAMES.join(', ')}`);
  return createCpLlmConfig({
    m: overrides.m ?? 2,
    k: overrides.k ?? 2,
    contextSize: 32,
    patchSize: 32,
    pixelFit: [32, 64],
    contextVit: vitConfig('micro', { hiddenSize: 24, numLayers: 1, numHeads: 2, mlpDim: 32, classToken: false, gelu: 'tanh' }),
    pixelVit: vitConfig('micro', { numLayers: 1, hiddenSize: 16, numHeads: 2, mlpDim: 32 }),
    decoder: createGemmaConfig({ vocabSize: 96, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8 }),
    head: { hidden: 8 },
    maxDescriptionTokens: 4,
    seed: overrides.seed ?? 3,
  });
}

/** Sentences of the `micro` preset's tokenizer: both prompts and two descriptions. */
export const MICRO_TOKENIZER_TEXTS: readonly string[] = Object.freeze([
  CP_LLM_DEFAULTS.prompts.describe,
  CP_LLM_DEFAULTS.prompts.compare,
  'the video is sharp and clean.',
  'heavy blocking and blur; the first video is better.',
]);

/** The tokenizer of a preset (`micro`: a 96-token WordPiece vocabulary of {@link MICRO_TOKENIZER_TEXTS}). */
export function presetTokenizer(name: CpLlmPresetName): TokenizerFiles {
  if (name !== 'micro') throw new ModelError('E_MODEL_CONFIG', `preset: unknown name ${String(name)}; known: ${CP_LLM_PRESET_NAMES.join(', ')}`);
  return buildWordPieceTokenizer(MICRO_TOKENIZER_TEXTS, { vocabSize: 96 });
}

/** Name of the model trained and shipped in the vqlm repository (`models/vqlm-tiny`). */
export const DEFAULT_MODEL_NAME = 'vqlm-tiny';

/** Where {@link findDefaultModel} looks, in order. */
export interface FindDefaultModelOptions {
  /** Environment to read `VQLM_MODEL` from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directories to search upwards from for `models/vqlm-tiny/model.json` (default: the working directory and this package's location). */
  readonly from?: readonly string[];
}

function searchUp(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'models', DEFAULT_MODEL_NAME);
    if (existsSync(join(candidate, 'model.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The bundle directory a command uses when none is given: `$VQLM_MODEL` when set (it must be a
 * bundle: a directory with `model.json`), else the first `models/vqlm-tiny` found walking up from
 * the working directory, then from this package's own location (a checkout of the vqlm repo).
 * @returns the directory, or null when there is none
 * @throws ModelError `E_BUNDLE_IO` when `VQLM_MODEL` names something that is not a bundle.
 */
export function findDefaultModel(options: FindDefaultModelOptions = {}): string | null {
  const env = options.env ?? process.env;
  const fromEnv = env.VQLM_MODEL;
  if (fromEnv !== undefined && fromEnv !== '') {
    const dir = isAbsolute(fromEnv) ? fromEnv : resolve(fromEnv);
    if (!existsSync(join(dir, 'model.json'))) throw new ModelError('E_BUNDLE_IO', `VQLM_MODEL: ${dir} is not a model bundle (no model.json)`);
    return dir;
  }
  const starts = options.from ?? [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    const found = searchUp(start);
    if (found) return found;
  }
  return null;
}
