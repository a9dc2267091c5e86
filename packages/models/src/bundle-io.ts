import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { openSafetensors, tf, type SafetensorsFile } from '@vqlm/runtime';
import { ModelError, shapeText } from './errors.js';

/** Version of the bundle layout written by `saveBundle`. */
export const BUNDLE_FORMAT_VERSION = 1;
/** File names inside a bundle. */
export const BUNDLE_FILES = Object.freeze({
  manifest: 'model.json',
  weights: 'model.safetensors',
  contextTower: 'context_tower.safetensors',
  /** LMM-VQA's frozen spatial ViT (HF names). */
  spatialTower: 'spatial_tower.safetensors',
  decoder: 'decoder',
  adapter: 'adapter',
  tokenizer: 'tokenizer.json',
  /** The exported pixel encoder (ViT, projector, mean over K, layer norm). */
  onnxPixelEncoder: 'pixel_encoder.onnx',
  /** The exported quality head (context projector, pooling, MLP). */
  onnxHead: 'quality_head.onnx',
  /** The frozen tfjs context tower, exported. */
  onnxContextTower: 'context_tower.onnx',
  /** The decoder with its LoRA folded in, for descriptions in ONNX Runtime. */
  onnxDecoder: 'decoder.onnx',
  /** LMM-VQA's spatial branch (frozen ViT and projector), exported. */
  onnxSpatialEncoder: 'spatial_encoder.onnx',
  /** LMM-VQA's temporal encoder with its projector, exported. */
  onnxTemporalEncoder: 'temporal_encoder.onnx',
  /** LMM-VQA's level head, exported. */
  onnxLevelHead: 'level_head.onnx',
});

/**
 * Model architectures a bundle can hold (`model.json` `architecture`; absent means `cp-llm`).
 * `cp-llm-ensemble` is a directory of CP-LLM member bundles whose scores are averaged.
 */
export type BundleArchitecture = 'cp-llm' | 'lmm-vqa' | 'cp-llm-ensemble';

/** This package's version, recorded in `model.json` (`../package.json` from both `src/` and `dist/`). */
export const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/**
 * Writes a bundle directory atomically: `fill` writes into a temporary sibling directory, which
 * is then renamed over `dir` (an existing bundle is replaced). Nothing temporary is left behind.
 * @throws ModelError from `fill`, or `E_BUNDLE_IO` naming `dir`.
 */
export async function writeBundleDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await fill(tmp);
    const old = `${tmp}.old`;
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (exists) await rename(target, old);
    await rename(tmp, target);
    if (exists) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    if (error instanceof ModelError) throw error;
    throw new ModelError('E_BUNDLE_IO', `saveBundle: cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Writes one file atomically (a temporary sibling renamed over `path`): a reader sees the old
 * file or the whole new one, and nothing temporary is left behind.
 * @throws ModelError `E_BUNDLE_IO` naming `path`.
 */
export async function writeBundleFile(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new ModelError('E_BUNDLE_IO', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Reads a bundle's `model.json` as JSON.
 * @throws ModelError `E_BUNDLE_IO` (missing), `E_BUNDLE_CONFIG` (not JSON).
 */
export async function readManifestJson(dir: string): Promise<unknown> {
  const path = join(dir, BUNDLE_FILES.manifest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelError('E_BUNDLE_IO', `${path}: cannot read model.json (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ModelError('E_BUNDLE_CONFIG', `model.json: not valid JSON (${(error as Error).message})`, { cause: error });
  }
}

/**
 * The architecture named by a parsed `model.json` (absent: `cp-llm`, the only one of the first bundles).
 * @throws ModelError `E_BUNDLE_CONFIG` for an unknown one.
 */
export function manifestArchitecture(json: unknown): BundleArchitecture {
  const value = typeof json === 'object' && json !== null ? (json as { architecture?: unknown }).architecture : undefined;
  if (value === undefined) return 'cp-llm';
  if (value === 'cp-llm' || value === 'lmm-vqa' || value === 'cp-llm-ensemble') return value;
  throw new ModelError('E_BUNDLE_CONFIG', `model.json.architecture: expected 'cp-llm', 'lmm-vqa' or 'cp-llm-ensemble', got ${JSON.stringify(value)}`);
}

/** Wraps an error of a dependency's loader so that every bundle error is a {@link ModelError} naming the file. */
export function wrapBundleError(file: string, error: unknown): ModelError {
  if (error instanceof ModelError) return error;
  const code = (error as { code?: unknown }).code;
  const tensorProblem = code === 'MISSING_TENSOR' || code === 'TENSOR_SHAPE' || code === 'E_WEIGHTS' || code === 'E_SAFETENSORS_NAME';
  return new ModelError(tensorProblem ? 'E_BUNDLE_TENSOR' : 'E_BUNDLE_IO', `${file}: ${(error as Error).message}`, { cause: error });
}

/**
 * Checks that `file` holds exactly the tensors of `expected`, each of its shape, before anything is read.
 * @throws ModelError `E_BUNDLE_TENSOR` naming the missing, misshapen or unexpected tensor.
 */
export function checkBundleTensors(file: SafetensorsFile, expected: ReadonlyMap<string, tf.Tensor>, label: string): void {
  for (const [name, tensor] of expected) {
    if (!file.names.includes(name)) throw new ModelError('E_BUNDLE_TENSOR', `${label}: missing tensor '${name}' (expected shape ${shapeText(tensor.shape)})`);
    const shape = file.info(name).shape;
    if (!tf.util.arraysEqual(shape, tensor.shape)) {
      throw new ModelError('E_BUNDLE_TENSOR', `${label}: tensor '${name}' has shape ${shapeText(shape)}, expected ${shapeText(tensor.shape)}`);
    }
  }
  const unexpected = file.names.filter((name) => !expected.has(name));
  if (unexpected.length > 0) throw new ModelError('E_BUNDLE_TENSOR', `${label}: unexpected tensor '${unexpected[0]}'${unexpected.length > 1 ? ` (and ${unexpected.length - 1} more)` : ''}`);
}

/**
 * Reads a bundle's trainable-weights file into a model: checks every tensor first
 * ({@link checkBundleTensors}), then hands each one to `assign` (which copies it; the tensor is
 * disposed afterwards), except those under `headPrefix`, which are collected (prefix removed) and
 * given to `setHead` at once.
 * @throws ModelError `E_BUNDLE_IO` / `E_BUNDLE_TENSOR` naming `label`.
 */
export async function loadBundleTensors(
  path: string,
  label: string,
  expected: ReadonlyMap<string, tf.Tensor>,
  parts: { readonly headPrefix: string; readonly assign: (name: string, value: tf.Tensor) => void; readonly setHead: (weights: Record<string, tf.Tensor>) => void },
): Promise<void> {
  let file;
  try {
    file = await openSafetensors(path);
  } catch (error) {
    throw wrapBundleError(label, error);
  }
  try {
    checkBundleTensors(file, expected, label);
    const head: Record<string, tf.Tensor> = {};
    try {
      for (const name of expected.keys()) {
        const value = tf.tensor(await file.read(name), file.info(name).shape);
        if (name.startsWith(parts.headPrefix)) {
          head[name.slice(parts.headPrefix.length)] = value;
          continue;
        }
        try {
          parts.assign(name, value);
        } finally {
          value.dispose();
        }
      }
      parts.setHead(head);
    } finally {
      tf.dispose(Object.values(head));
    }
  } finally {
    await file.close();
  }
}

/**
 * The architecture of the bundle in `dir` (from its `model.json`; absent means `cp-llm`), to pick
 * `loadBundle` or `loadLmmVqaBundle`.
 * @throws ModelError `E_BUNDLE_IO` / `E_BUNDLE_CONFIG` as {@link readManifestJson}, or for an unknown architecture.
 */
export async function readBundleArchitecture(dir: string): Promise<BundleArchitecture> {
  return manifestArchitecture(await readManifestJson(dir));
}

/** Why a bundle without ONNX exports cannot load with `engine: 'onnx'`, and the fix. */
export const NO_ONNX_EXPORTS = 'model.json has no files.onnx; save the bundle with { onnx: true } or export it with exportBundleOnnx (vqlm export-onnx)';

/**
 * The exports a bundle loads with for `engine` (default `tfjs`): none for `tfjs`, `exports` for
 * `onnx` and, when there are any, for `auto`.
 * @param missing why `onnx` cannot be honoured when `exports` is null (default {@link NO_ONNX_EXPORTS})
 * @throws ModelError `E_MODEL_ARG` for an unknown engine, `E_BUNDLE_IO` naming `root` and the fix for `onnx` without exports.
 */
export function bundleExportsFor<T>(root: string, engine: 'auto' | 'tfjs' | 'onnx' | undefined, exports: T | null | undefined, missing: string = NO_ONNX_EXPORTS): T | null {
  const wanted = engine ?? 'tfjs';
  if (wanted !== 'auto' && wanted !== 'tfjs' && wanted !== 'onnx') throw new ModelError('E_MODEL_ARG', `engine: expected 'auto', 'tfjs' or 'onnx', got ${String(wanted)}`);
  if (wanted === 'onnx' && !exports) throw new ModelError('E_BUNDLE_IO', `${root}: ${missing}`);
  return wanted === 'tfjs' ? null : (exports ?? null);
}
