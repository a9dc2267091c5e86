/**
 * A tiny real corpus for the trainer's tests: 1 s, 96-pixel-wide cuts of three real clips
 * (two for training, one for validation), each with an H.264 CRF ladder made by the bundled
 * ffmpeg, pseudo-MOS falling with the CRF, and short descriptions. Plus a micro training config.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '@vqlm/runtime';
import { h264Ladder, makeVariants, resolveBinaries } from '@vqlm/video-io';
import { afterAll, beforeAll } from 'vitest';
import type { TrainConfigInput } from '../config.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** `../shared/<parts>` beside the checkout. */
export function sharedPath(...parts: string[]): string {
  return join(repoRoot, '..', 'shared', ...parts);
}

export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `vqlm-trainer-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export const CORPUS_SOURCES = { plane: 'train', realshort: 'train', chaplin: 'val' } as const;
export const CORPUS_CRFS = [18, 30, 42] as const;

/** Writes the corpus into `dir` and returns the manifest path. */
export async function makeTinyCorpus(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const [source, split] of Object.entries(CORPUS_SOURCES)) {
    const cut = join(dir, `${source}.mp4`);
    execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-i', sharedPath('corpus', 'sources', `${source}.mp4`), '-t', '1', '-vf', 'scale=96:-2', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '8', '-pix_fmt', 'yuv420p', cut]);
    const variants = await makeVariants(cut, { outDir: join(dir, source), ladder: h264Ladder({ from: CORPUS_CRFS[0], to: CORPUS_CRFS[2], step: CORPUS_CRFS[1] - CORPUS_CRFS[0] }), preset: 'ultrafast' });
    variants.forEach((v, i) => {
      const crf = v.recipe.crf ?? 0;
      const mos = 4.6 - i * 1.4;
      lines.push(
        JSON.stringify({
          id: `${source}-crf${crf}`,
          path: `${source}/${basename(v.path)}`,
          sourceId: source,
          split,
          variant: { level: i + 1, recipe: { kind: 'h264', crf } },
          pseudoMos: { method: 'vmaf-anchored', value: mos, anchor: 5 },
          description: i === 0 ? 'the video is sharp and clean.' : i === 1 ? 'some blocking and blur.' : 'heavy blocking and blur.',
        }),
      );
    });
  }
  const manifest = join(dir, 'manifest.jsonl');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  return manifest;
}

/** A micro training config over the tiny corpus (views 32², D = 16, one layer everywhere). */
export function microConfig(manifest: string, out: string, overrides: { train?: Record<string, unknown>; model?: Record<string, unknown>; seed?: number } = {}): TrainConfigInput {
  return {
    name: 'micro',
    seed: overrides.seed ?? 1,
    data: { manifest },
    model: {
      m: 2,
      k: 2,
      contextSize: 32,
      patchSize: 32,
      pixelFit: [48, 96],
      contextVit: { preset: 'micro', hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32, classToken: false },
      pixelVit: { preset: 'micro', hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
      decoder: { vocabSize: 128, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8 },
      head: { hidden: 16 },
      maxDescriptionTokens: 12,
      ...overrides.model,
    },
    train: { lr: 0.01, batchSize: 4, epochs: 3, pairRatio: 0.5, checkpointEvery: 2, freeze: { decoderBase: false }, ...overrides.train },
    eval: { everyEpochs: 1, flipDiffs: [12, 24], descriptions: 1 },
    output: { dir: out, plot: 'svg', onnx: false },
  };
}

/** {@link microConfig} for LMM-VQA: M = 2 key frames of 32² into a micro spatial ViT, 4 clip frames of 16² into a one-block temporal encoder, the same decoder. */
export function microLmmConfig(manifest: string, out: string, overrides: { train?: Record<string, unknown>; seed?: number } = {}): TrainConfigInput {
  const base = microConfig(manifest, out, { seed: overrides.seed });
  const { pairRatio: _pairs, ...train } = base.train as Record<string, unknown>;
  return {
    ...base,
    name: 'micro-lmm',
    model: {
      architecture: 'lmm-vqa',
      m: 2,
      lmm: {
        spatialVit: { preset: 'micro', imageSize: 32, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
        temporal: { numFrames: 4, imageSize: 16, tubeletFrames: 2, patchSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, mlpDim: 32 },
      },
      decoder: { vocabSize: 128, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8 },
    },
    train: { ...train, ...overrides.train },
  };
}

/**
 * Registers the common setup of a trainer test file: the test backend (`VQLM_TEST_BACKEND`, default
 * wasm) and a temporary directory with the tiny corpus, handed to `ready` before the tests; the
 * directory is removed after them.
 */
export function useTinyCorpus(label: string, ready: (dir: string, manifest: string) => void): void {
  let dir = '';
  beforeAll(async () => {
    await initBackend({ backend: (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName, log: () => undefined });
    dir = await makeTempDir(label);
    ready(dir, await makeTinyCorpus(dir));
  }, 120_000);
  afterAll(async () => removeTempDir(dir));
}
