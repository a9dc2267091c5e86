import { execFileSync } from 'node:child_process';
import { vitConfig } from '@vqlm/encoders';
import { initBackend, tf, type BackendName } from '@vqlm/runtime';
import { resolveBinaries } from '@vqlm/video-io';
import { createLmmVqaConfig, type LmmVqaConfig, type LmmVqaConfigInit } from '../lmm-vqa.js';
import { cpLlmPreset } from '../presets.js';

/** Test helpers; the test model is `cpLlmPreset('micro')` with `presetTokenizer('micro')` (src/presets.ts). */

/** Selects the tfjs backend of the tests: `VQLM_TEST_BACKEND`, default wasm (the CI backend). */
export async function useTestBackend(): Promise<void> {
  const backend = (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName;
  await initBackend({ backend, log: () => undefined });
}

/** Deterministic pseudo-random bytes. */
export function bytes(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & 255;
  }
  return out;
}

/** Live tensor count. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}

/** A 128×64, 12-frame lossless clip from ffmpeg's lavfi test source, optionally filtered. */
export function makeClip(path: string, filter?: string): string {
  const source = `testsrc2=size=128x64:rate=10:duration=1.2${filter ? `,${filter}` : ''}`;
  execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', source, '-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path]);
  return path;
}

/** The test-sized LMM-VQA: M = 2 micro spatial ViT (32²), 4 clip frames of 16², the micro decoder. */
export function microLmmVqaConfig(overrides: Partial<LmmVqaConfigInit> = {}): LmmVqaConfig {
  return createLmmVqaConfig({
    m: 2,
    spatialVit: vitConfig('micro', { numLayers: 1 }),
    temporal: { numFrames: 4, imageSize: 16, tubeletFrames: 2, patchSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
    decoder: cpLlmPreset('micro').decoder,
    ...overrides,
  });
}
