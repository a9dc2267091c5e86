import { openSafetensors, tf, writeSafetensors, type SafetensorsFile } from '@vqlm/runtime';
import { EncoderError } from './errors.js';
import type { ViT, VitConfig } from './vit.js';

/** Hugging Face checkpoint families a {@link ViT} can load: `ViTModel` or `SiglipVisionModel`. */
export type HfVitFormat = 'vit' | 'siglip';

/** How a Hugging Face tensor becomes an internal parameter. */
export type HfConversion =
  /** `nn.Linear.weight [out, in]` → `[in, out]`. */
  | 'transpose'
  /** `Conv2d.weight [H, C, p, p]` → `[p·p·C, H]` (row in patch, column in patch, channel). */
  | 'patch'
  /** Same values, leading 1-sized dims dropped (`[1, 1, H]` → `[1, H]`, `[1, N, H]` → `[N, H]`). */
  | 'squeeze'
  /** Unchanged. */
  | 'copy';

/** One row of the name map between a Hugging Face checkpoint and a {@link ViT}. */
export interface HfNameMapEntry {
  /** Full HF tensor name, prefix included. */
  readonly hfName: string;
  /** HF shape. */
  readonly hfShape: readonly number[];
  /** Internal parameter name of {@link ViT.params}. */
  readonly name: string;
  readonly conversion: HfConversion;
}

/** Default prefixes: `vit.` (`ViTForImageClassification`) and `vision_model.` (`SiglipVisionModel`, `SiglipModel`). */
export const HF_DEFAULT_PREFIX: Record<HfVitFormat, string> = { vit: 'vit.', siglip: 'vision_model.' };

/**
 * The full name map for `config` in `format`, in the order of the ViT's
 * parameters. `prefix` defaults to {@link HF_DEFAULT_PREFIX}; pass `''` for a
 * bare `ViTModel` checkpoint. Throws `E_ARG` when the format and the config's
 * class token disagree (HF ViT has one, SigLIP has none).
 */
export function hfVitNameMap(config: VitConfig, format: HfVitFormat, prefix = HF_DEFAULT_PREFIX[format]): HfNameMapEntry[] {
  const h = config.hiddenSize;
  const p = config.patchSize;
  const c = config.channels;
  const f = config.mlpDim;
  const grid = (config.imageSize / p) ** 2;
  const rows: HfNameMapEntry[] = [];
  const add = (hfName: string, hfShape: number[], name: string, conversion: HfConversion): void => {
    rows.push({ hfName: prefix + hfName, hfShape, name, conversion });
  };
  if (format === 'vit') {
    if (!config.classToken) throw new EncoderError('E_ARG', 'format: HF ViT checkpoints need config.classToken = true');
    add('embeddings.patch_embeddings.projection.weight', [h, c, p, p], 'patch.weight', 'patch');
    add('embeddings.patch_embeddings.projection.bias', [h], 'patch.bias', 'copy');
    add('embeddings.cls_token', [1, 1, h], 'cls', 'squeeze');
    add('embeddings.position_embeddings', [1, grid + 1, h], 'pos', 'squeeze');
    for (let i = 0; i < config.numLayers; i++) {
      const l = `encoder.layer.${i}.`;
      const b = `blocks.${i}.`;
      add(`${l}layernorm_before.weight`, [h], `${b}ln1.gamma`, 'copy');
      add(`${l}layernorm_before.bias`, [h], `${b}ln1.beta`, 'copy');
      for (const [hf, ours] of [['query', 'q'], ['key', 'k'], ['value', 'v']] as const) {
        add(`${l}attention.attention.${hf}.weight`, [h, h], `${b}attn.${ours}.weight`, 'transpose');
        add(`${l}attention.attention.${hf}.bias`, [h], `${b}attn.${ours}.bias`, 'copy');
      }
      add(`${l}attention.output.dense.weight`, [h, h], `${b}attn.out.weight`, 'transpose');
      add(`${l}attention.output.dense.bias`, [h], `${b}attn.out.bias`, 'copy');
      add(`${l}layernorm_after.weight`, [h], `${b}ln2.gamma`, 'copy');
      add(`${l}layernorm_after.bias`, [h], `${b}ln2.beta`, 'copy');
      add(`${l}intermediate.dense.weight`, [f, h], `${b}mlp.fc1.weight`, 'transpose');
      add(`${l}intermediate.dense.bias`, [f], `${b}mlp.fc1.bias`, 'copy');
      add(`${l}output.dense.weight`, [h, f], `${b}mlp.fc2.weight`, 'transpose');
      add(`${l}output.dense.bias`, [h], `${b}mlp.fc2.bias`, 'copy');
    }
    add('layernorm.weight', [h], 'norm.gamma', 'copy');
    add('layernorm.bias', [h], 'norm.beta', 'copy');
  } else {
    if (config.classToken) throw new EncoderError('E_ARG', 'format: SigLIP checkpoints need config.classToken = false');
    add('embeddings.patch_embedding.weight', [h, c, p, p], 'patch.weight', 'patch');
    add('embeddings.patch_embedding.bias', [h], 'patch.bias', 'copy');
    add('embeddings.position_embedding.weight', [grid, h], 'pos', 'copy');
    for (let i = 0; i < config.numLayers; i++) {
      const l = `encoder.layers.${i}.`;
      const b = `blocks.${i}.`;
      add(`${l}layer_norm1.weight`, [h], `${b}ln1.gamma`, 'copy');
      add(`${l}layer_norm1.bias`, [h], `${b}ln1.beta`, 'copy');
      for (const [hf, ours] of [['q_proj', 'q'], ['k_proj', 'k'], ['v_proj', 'v'], ['out_proj', 'out']] as const) {
        add(`${l}self_attn.${hf}.weight`, [h, h], `${b}attn.${ours}.weight`, 'transpose');
        add(`${l}self_attn.${hf}.bias`, [h], `${b}attn.${ours}.bias`, 'copy');
      }
      add(`${l}layer_norm2.weight`, [h], `${b}ln2.gamma`, 'copy');
      add(`${l}layer_norm2.bias`, [h], `${b}ln2.beta`, 'copy');
      add(`${l}mlp.fc1.weight`, [f, h], `${b}mlp.fc1.weight`, 'transpose');
      add(`${l}mlp.fc1.bias`, [f], `${b}mlp.fc1.bias`, 'copy');
      add(`${l}mlp.fc2.weight`, [h, f], `${b}mlp.fc2.weight`, 'transpose');
      add(`${l}mlp.fc2.bias`, [h], `${b}mlp.fc2.bias`, 'copy');
    }
    add('post_layernorm.weight', [h], 'norm.gamma', 'copy');
    add('post_layernorm.bias', [h], 'norm.beta', 'copy');
  }
  return rows;
}

function fromHf(value: tf.Tensor, entry: HfNameMapEntry, config: VitConfig): tf.Tensor {
  return tf.tidy(() => {
    switch (entry.conversion) {
      case 'transpose':
        return tf.transpose(value);
      case 'patch': {
        const p = config.patchSize;
        return tf.reshape(tf.transpose(value, [2, 3, 1, 0]), [p * p * config.channels, config.hiddenSize]);
      }
      case 'squeeze':
        return tf.reshape(value, value.shape.slice(value.rank === 3 ? 1 : 0));
      case 'copy':
        return tf.clone(value);
    }
  });
}

function toHf(value: tf.Tensor, entry: HfNameMapEntry): tf.Tensor {
  return tf.tidy(() => {
    switch (entry.conversion) {
      case 'transpose':
        return tf.transpose(value);
      case 'patch': {
        const [h, c, p] = entry.hfShape;
        return tf.transpose(tf.reshape(value, [p, p, c, h]), [3, 2, 0, 1]);
      }
      case 'squeeze':
      case 'copy':
        return tf.reshape(value, [...entry.hfShape]);
    }
  });
}

/** Picks the format and prefix of a checkpoint from its tensor names. */
export function detectHfVitFormat(names: readonly string[]): { format: HfVitFormat; prefix: string } {
  const has = new Set(names);
  for (const prefix of ['vit.', '']) {
    if (has.has(`${prefix}embeddings.patch_embeddings.projection.weight`)) return { format: 'vit', prefix };
  }
  for (const prefix of ['vision_model.', '']) {
    if (has.has(`${prefix}embeddings.patch_embedding.weight`)) return { format: 'siglip', prefix };
  }
  throw new EncoderError(
    'E_WEIGHTS',
    'checkpoint: no ViT (vit.embeddings.patch_embeddings.projection.weight) or SigLIP (vision_model.embeddings.patch_embedding.weight) patch embedding found',
  );
}

/** Options of {@link loadVitWeights}. */
export interface LoadVitWeightsOptions {
  /** Checkpoint family; detected from the names when omitted. */
  readonly format?: HfVitFormat;
  /** Name prefix; detected (or {@link HF_DEFAULT_PREFIX}) when omitted. */
  readonly prefix?: string;
}

/**
 * Loads Hugging Face ViT or SigLIP-vision weights from a `.safetensors` file
 * (or sharded index, or an open file) into `vit`. Every tensor of the name map
 * must be present with its HF shape; extra tensors (pooler, classifier, text
 * tower) are ignored. Throws `EncoderError` `E_WEIGHTS` naming the missing or
 * misshapen tensor.
 * @returns the format and prefix used.
 */
export async function loadVitWeights(
  vit: ViT,
  source: string | SafetensorsFile,
  options: LoadVitWeightsOptions = {},
): Promise<{ format: HfVitFormat; prefix: string }> {
  const file = typeof source === 'string' ? await openSafetensors(source) : source;
  try {
    let format = options.format;
    let prefix = options.prefix;
    if (format === undefined || prefix === undefined) {
      const detected = detectHfVitFormat(file.names);
      format ??= detected.format;
      prefix ??= format === detected.format ? detected.prefix : HF_DEFAULT_PREFIX[format];
    }
    const map = hfVitNameMap(vit.config, format, prefix);
    const names = new Set(file.names);
    for (const entry of map) {
      if (!names.has(entry.hfName)) throw new EncoderError('E_WEIGHTS', `checkpoint: missing tensor ${entry.hfName}`);
      const { shape } = file.info(entry.hfName);
      if (!tf.util.arraysEqual(shape, entry.hfShape as number[])) {
        throw new EncoderError(
          'E_WEIGHTS',
          `${entry.hfName}: expected shape [${entry.hfShape.join(', ')}], got [${shape.join(', ')}]`,
        );
      }
    }
    for (const entry of map) {
      const data = await file.read(entry.hfName);
      const converted = tf.tidy(() => fromHf(tf.tensor(data, [...entry.hfShape], 'float32'), entry, vit.config));
      vit.params.set(entry.name, converted);
      converted.dispose();
    }
    return { format, prefix };
  } finally {
    if (typeof source === 'string') await file.close();
  }
}

/**
 * Writes `vit`'s parameters to `path` as a Hugging Face checkpoint (names and
 * layouts of {@link hfVitNameMap}), so that `transformers` loads it.
 */
export async function saveVitWeights(
  vit: ViT,
  path: string,
  options: { format?: HfVitFormat; prefix?: string; metadata?: Record<string, string> } = {},
): Promise<void> {
  const format = options.format ?? (vit.config.classToken ? 'vit' : 'siglip');
  const map = hfVitNameMap(vit.config, format, options.prefix ?? HF_DEFAULT_PREFIX[format]);
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const entry of map) tensors[entry.hfName] = toHf(vit.params.get(entry.name), entry);
    await writeSafetensors(path, tensors, { metadata: { format: 'pt', ...options.metadata } });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
