import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openSafetensors, tf, writeSafetensors } from '@vqlm/runtime';
import { DecoderError, formatShape } from './decoder-error.js';
import type { GemmaDecoder } from './gemma-decoder.js';
import { parsePeftAdapterConfig, peftTensorName, toPeftAdapterConfig, type LoraConfig } from './lora.js';

/** File names PEFT uses for an adapter directory. */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/**
 * Saves the decoder's LoRA adapters alone, as PEFT does: `adapter_model.safetensors`
 * (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` `[r, in]`, `...lora_B.weight` `[out, r]`)
 * and `adapter_config.json`.
 * @throws DecoderError `ADAPTER_STATE` when no adapter is attached.
 */
export async function saveLoraAdapter(dir: string, decoder: GemmaDecoder, options: { baseModel?: string | null } = {}): Promise<void> {
  const config = decoder.loraConfig;
  if (config === null) throw new DecoderError('ADAPTER_STATE', 'saveLoraAdapter: the decoder has no LoRA adapters');
  const tensors: Record<string, tf.Tensor> = {};
  for (const [path, adapter] of decoder.loraAdapters()) {
    tensors[peftTensorName(path, 'A')] = adapter.a;
    tensors[peftTensorName(path, 'B')] = adapter.b;
  }
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { metadata: { format: 'pt' } });
  await writeFile(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(toPeftAdapterConfig(config, options.baseModel ?? null), null, 2)}\n`);
}

/**
 * Loads a PEFT LoRA adapter directory into the decoder (replacing attached adapters).
 * @returns the adapter's config
 * @throws DecoderError `MISSING_TENSOR` / `TENSOR_SHAPE` naming the tensor, `INVALID_CONFIG` for the config.
 */
export async function loadLoraAdapter(dir: string, decoder: GemmaDecoder): Promise<LoraConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
  } catch (error) {
    throw new DecoderError('CHECKPOINT_NOT_FOUND', `cannot read ${join(dir, ADAPTER_CONFIG_FILE)}: ${(error as Error).message}`);
  }
  const config = parsePeftAdapterConfig(json);
  const file = await openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  const values = new Map<string, { data: Float32Array; shape: number[] }>();
  try {
    decoder.addLora(config);
    const available = new Set(file.names);
    for (const [path, adapter] of decoder.loraAdapters()) {
      for (const [which, variable] of [['A', adapter.a], ['B', adapter.b]] as const) {
        const name = peftTensorName(path, which);
        if (!available.has(name)) throw new DecoderError('MISSING_TENSOR', `adapter is missing tensor '${name}' (expected shape ${formatShape(variable.shape)})`);
        const shape = file.info(name).shape;
        if (shape.length !== 2 || shape[0] !== variable.shape[0] || shape[1] !== variable.shape[1]) {
          throw new DecoderError('TENSOR_SHAPE', `adapter tensor '${name}' has shape ${formatShape(shape)}, expected ${formatShape(variable.shape)}`);
        }
        values.set(name, { data: await file.read(name), shape });
      }
    }
    for (const [path, adapter] of decoder.loraAdapters()) {
      for (const [which, variable] of [['A', adapter.a], ['B', adapter.b]] as const) {
        const { data, shape } = values.get(peftTensorName(path, which))!;
        const tensor = tf.tensor2d(data, [shape[0], shape[1]]);
        variable.assign(tensor);
        tensor.dispose();
      }
    }
  } catch (error) {
    decoder.removeLora();
    throw error;
  } finally {
    await file.close();
  }
  return config;
}
