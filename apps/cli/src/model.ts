import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import type { Scorer } from '@vqlm/models';
import { CliError } from './cli-error.js';

/**
 * Where the model commands look for the default bundle when `--model` is not
 * given: `VQLM_MODEL`, then `models/vqlm-tiny` walking up from each of
 * `from` (default: the working directory, then this CLI's own location, i.e.
 * a checkout of the vqlm repository). Tests replace `from` to stay
 * independent of the bundle committed in the repository.
 */
export const modelSearch: { from: readonly string[] | undefined } = { from: undefined };

/** The directories searched upwards for `models/vqlm-tiny`, in order. */
export function modelSearchDirs(): readonly string[] {
  return modelSearch.from ?? [process.cwd(), dirname(fileURLToPath(import.meta.url))];
}

/** Help text of the `--model` option of every model command. */
export const MODEL_OPTION_HELP = 'model bundle directory (default: $VQLM_MODEL, else models/vqlm-tiny found walking up from the working directory or the vqlm install)';

/** The one line printed when no model is given and none is found. */
export function noModelMessage(searched: readonly string[]): string {
  return `no model bundle: --model was not given, VQLM_MODEL is not set and no models/vqlm-tiny/model.json was found in ${searched.join(' or ')} or any parent; pass --model <bundle> (a directory written by saveBundle or vqlm-train) or set VQLM_MODEL`;
}

/**
 * The bundle a model command uses: `model` when given, else
 * `findDefaultModel()` of `@vqlm/models` over {@link modelSearchDirs}.
 * @throws CliError `E_NO_MODEL` saying where it looked; ModelError `E_BUNDLE_IO` when `VQLM_MODEL` is not a bundle.
 */
export async function resolveModel(model: string | undefined): Promise<string> {
  if (model !== undefined && model.length > 0) return model;
  const { findDefaultModel } = await import('@vqlm/models');
  const searched = modelSearchDirs();
  const found = findDefaultModel({ from: searched });
  if (found === null) throw new CliError(noModelMessage(searched), 'E_NO_MODEL');
  return found;
}

/** Engines of `--engine`: `auto` scores (and describes, with `decoder.onnx`) in ONNX Runtime when the bundle has the exports (`vqlm export-onnx`), else tfjs. */
export const ENGINES = ['auto', 'tfjs', 'onnx'] as const;
export type Engine = (typeof ENGINES)[number];

/** The flags every model command takes. */
export interface ModelFlags {
  model?: string;
  engine?: Engine;
}

/** Adds `--model <bundle>` and `--engine <auto|tfjs|onnx>` to a model command. */
export function withModelOptions(command: Command): Command {
  return command
    .option('--model <bundle>', MODEL_OPTION_HELP)
    .addOption(new Option('--engine <engine>', 'scoring engine: auto (ONNX Runtime when the bundle has its ONNX exports, else tfjs), tfjs, or onnx').choices(ENGINES).default('auto'));
}

/**
 * Opens a scorer on the bundle `model` (or the default one, see
 * {@link resolveModel}) with `engine`; tfjs backend chosen by `initBackend`:
 * `VQLM_BACKEND`, else tfjs-node-gpu → tfjs-node → wasm → cpu. `@vqlm/models`
 * is imported lazily so commands without a model start fast.
 */
export async function openScorer(model: string | undefined, engine: Engine = 'auto'): Promise<Scorer> {
  const dir = await resolveModel(model);
  const [{ initBackend }, { createScorer }] = await Promise.all([import('@vqlm/runtime'), import('@vqlm/models')]);
  await initBackend({ log: () => undefined });
  return createScorer(dir, { engine });
}
