import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openSafetensors, writeSafetensors, type SafetensorsInput, type tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import { parseGemmaConfig, toHfGemmaConfig, type GemmaConfig } from './gemma-config.js';
import { GemmaDecoder } from './gemma-decoder.js';
import { expectedGemmaTensors, readGemmaWeights, type GemmaWeights } from './gemma-weights.js';

/** Options of {@link loadGemmaCheckpoint}. */
export interface LoadGemmaOptions {
  /** Use this config instead of reading `config.json` beside the weights. */
  config?: GemmaConfig;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    throw new DecoderError('CHECKPOINT_NOT_FOUND', `checkpoint path '${path}' does not exist`);
  }
}

/** Reads and resolves an HF `config.json`. @throws DecoderError naming the file or field. */
export async function readGemmaConfig(path: string): Promise<GemmaConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DecoderError('CHECKPOINT_NOT_FOUND', `Gemma config '${path}' cannot be read`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DecoderError('INVALID_CONFIG', `Gemma config '${path}' is not valid JSON: ${(error as Error).message}`);
  }
  return parseGemmaConfig(json);
}

/**
 * Loads an HF Gemma checkpoint: a directory holding `config.json` and `model.safetensors` or a
 * sharded set with `model.safetensors.index.json`, or the path of one of those files (the config is
 * read beside it). bf16/f16 weights become float32. Tensors are read one at a time, so peak memory
 * stays near the size of the float32 weights.
 * @throws DecoderError `MISSING_TENSOR` / `TENSOR_SHAPE` naming the tensor, `CHECKPOINT_NOT_FOUND`.
 */
export async function loadGemmaCheckpoint(path: string, options: LoadGemmaOptions = {}): Promise<GemmaDecoder> {
  const dir = (await isDirectory(path)) ? path : dirname(path);
  const config = options.config ?? (await readGemmaConfig(join(dir, 'config.json')));
  const file = await openSafetensors(path);
  let weights: GemmaWeights;
  try {
    weights = await readGemmaWeights(config, file, 'transposed');
  } finally {
    await file.close();
  }
  return new GemmaDecoder(config, weights, { weightLayout: 'transposed' });
}

/** Options of {@link saveGemmaCheckpoint}. */
export interface SaveGemmaOptions {
  /** Stored dtype (default `F32`). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Split into shards of at most about this many bytes, with `model.safetensors.index.json` (default: one file). */
  maxShardBytes?: number;
}

const BYTES: Record<NonNullable<SaveGemmaOptions['dtype']>, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Writes base weights in HF layout: `config.json` plus `model.safetensors`, or
 * `model-0000i-of-0000n.safetensors` shards and `model.safetensors.index.json`.
 * Adapters are not included (merged ones are, as part of the weights); see `saveLoraAdapter`.
 */
export async function saveGemmaCheckpoint(
  dir: string,
  source: GemmaDecoder | { config: GemmaConfig; weights: ReadonlyMap<string, SafetensorsInput> },
  options: SaveGemmaOptions = {},
): Promise<string[]> {
  const config = source.config;
  const shapes = expectedGemmaTensors(config);
  const weights = source instanceof GemmaDecoder ? null : source.weights;
  const dtype = options.dtype ?? 'F32';
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify({ ...toHfGemmaConfig(config), torch_dtype: dtype === 'BF16' ? 'bfloat16' : dtype === 'F16' ? 'float16' : 'float32' }, null, 2)}\n`);
  const names = [...shapes.keys()];
  if (weights !== null) {
    for (const name of names) {
      if (!weights.has(name)) throw new DecoderError('MISSING_TENSOR', `saveGemmaCheckpoint: weights are missing tensor '${name}'`);
    }
  }
  const sizeOf = (name: string): number => shapes.get(name)!.reduce((a, b) => a * b, 1) * BYTES[dtype];
  const groups: string[][] = [];
  if (options.maxShardBytes === undefined) {
    groups.push(names);
  } else {
    if (!(options.maxShardBytes > 0)) {
      throw new DecoderError('INVALID_ARGUMENT', `saveGemmaCheckpoint: maxShardBytes must be positive, got ${options.maxShardBytes}`);
    }
    let current: string[] = [];
    let bytes = 0;
    for (const name of names) {
      const size = sizeOf(name);
      if (current.length > 0 && bytes + size > options.maxShardBytes) {
        groups.push(current);
        current = [];
        bytes = 0;
      }
      current.push(name);
      bytes += size;
    }
    if (current.length > 0) groups.push(current);
  }
  // A decoder's weights are copied to HF layout one shard at a time.
  const writeGroup = async (file: string, group: string[]): Promise<void> => {
    const copies: tf.Tensor[] = [];
    const tensors: Record<string, SafetensorsInput> = {};
    try {
      for (const name of group) {
        if (weights !== null) {
          tensors[name] = weights.get(name)!;
        } else {
          const copy = (source as GemmaDecoder).weight(name);
          copies.push(copy);
          tensors[name] = copy;
        }
      }
      await writeSafetensors(file, tensors, { dtype, metadata: { format: 'pt' } });
    } finally {
      for (const copy of copies) copy.dispose();
    }
  };
  if (groups.length === 1 && options.maxShardBytes === undefined) {
    const file = join(dir, 'model.safetensors');
    await writeGroup(file, groups[0]);
    return [file];
  }
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let total = 0;
  const pad = (n: number): string => String(n).padStart(5, '0');
  for (let i = 0; i < groups.length; i += 1) {
    const fileName = `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`;
    await writeGroup(join(dir, fileName), groups[i]);
    for (const name of groups[i]) {
      weightMap[name] = fileName;
      total += sizeOf(name);
    }
    files.push(join(dir, fileName));
  }
  const index = join(dir, 'model.safetensors.index.json');
  await writeFile(index, `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
  return [...files, index];
}
