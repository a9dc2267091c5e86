// Scoring benchmark: seconds per scored 1080p 10 s clip, split into decode (video-io
// sampleViews), context encoder, pixel encoder, quality head and decoder (description
// generation), with the scoring path in tfjs (wasm backend) and in ONNX Runtime (a bundle saved
// with `onnx: true` or exported by `vqlm export-onnx`), and the ONNX/tfjs ratio per stage; then the
// same for a random LMM-VQA of the trainer README's LMM shape. Not a test; prints markdown tables.
//   pnpm --filter @vqlm/models bench [-- --bundle <dir> | --preset micro] [--reps 5] [--source plane.mp4]
// Model: --bundle, else --preset, else findDefaultModel() (VQLM_MODEL, models/vqlm-tiny), else a
// random CP-LLM shaped like models/vqlm-tiny/train.json. The clip is a corpus source scaled to
// 1920x1080 and looped to 10 s with the bundled ffmpeg, in a temp dir removed afterwards.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildWordPieceTokenizer, createGemmaConfig } from '@vqlm/decoder-lora';
import { vitConfig } from '@vqlm/encoders';
import { createRng, initBackend, tf } from '@vqlm/runtime';
import { probe, resolveBinaries } from '@vqlm/video-io';
import {
  CP_LLM_DEFAULTS,
  CP_LLM_PRESET_NAMES,
  CpLlm,
  LMM_VQA_PROMPT,
  LmmVqa,
  cpLlmPreset,
  createLmmVqaConfig,
  createCpLlmConfig,
  createScorer,
  findDefaultModel,
  loadBundle,
  lmmVqaAnswer,
  onnxScoringFiles,
  presetTokenizer,
  readBundleArchitecture,
  readBundleManifest,
  readEnsembleManifest,
  saveBundle,
  type CpLlmConfig,
  type CpLlmPresetName,
  cpLlmObjective,
  type CpLlmTrainBatch,
  type ScoreTiming,
} from '../src/index.js';

const { values } = parseArgs({
  // `pnpm bench -- --flag` passes the `--` through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    bundle: { type: 'string' },
    preset: { type: 'string' },
    reps: { type: 'string', default: '5' },
    source: { type: 'string', default: 'plane.mp4' },
  },
});
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected an integer ≥ 1, got ${values.reps}`);
if (values.preset !== undefined && !(CP_LLM_PRESET_NAMES as readonly string[]).includes(values.preset)) {
  throw new Error(`--preset: expected one of ${CP_LLM_PRESET_NAMES.join(', ')}, got ${values.preset}`);
}

/** A random CP-LLM of the shape of models/vqlm-tiny/train.json (the default model being trained). */
function vqlmTinyShape(): CpLlmConfig {
  return createCpLlmConfig({
    m: 4,
    k: 8,
    contextSize: 32,
    patchSize: 32,
    pixelFit: [720, 1280],
    pixelUpscale: false,
    contextVit: vitConfig('micro', { imageSize: 32, patchSize: 16, hiddenSize: 32, numLayers: 1, numHeads: 2, mlpDim: 64, classToken: false }),
    pixelVit: vitConfig('micro', { imageSize: 32, patchSize: 8, hiddenSize: 48, numLayers: 2, numHeads: 4, mlpDim: 96 }),
    decoder: createGemmaConfig({ vocabSize: 384, hiddenSize: 48, intermediateSize: 96, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 12 }),
    head: { hidden: 48 },
    maxDescriptionTokens: 80,
  });
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const source = isAbsolute(values.source) ? values.source : resolve(repoRoot, '..', 'shared', 'corpus', 'sources', values.source);
const backend = await initBackend({ backend: 'wasm', log: () => undefined });
const dir = await mkdtemp(join(tmpdir(), 'vqlm-models-bench-'));
try {
  // 1080p, 10 s: the source looped and scaled (x264 ultrafast, CRF 18).
  const clip = join(dir, 'clip-1080p-10s.mp4');
  execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-stream_loop', '-1', '-i', source, '-t', '10', '-an', '-vf', 'scale=1920:1080,setsar=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p', clip]);
  const info = await probe(clip);

  // The model: a bundle for tfjs, and the same weights with ONNX exports for ONNX Runtime.
  let label: string;
  let tfjsBundle: string;
  let onnxBundle = join(dir, 'onnx-bundle');
  const given = values.bundle ?? (values.preset === undefined ? findDefaultModel() : null);
  let memberBundle: string | null = null;
  if (given !== null && given !== undefined && (await readBundleArchitecture(given)) === 'cp-llm-ensemble') {
    // An ensemble: every member scores the same decoded views; its members carry their ONNX exports.
    tfjsBundle = resolve(given);
    onnxBundle = tfjsBundle;
    const ensemble = await readEnsembleManifest(tfjsBundle);
    if (!ensemble.memberManifests.every((m) => onnxScoringFiles(m))) throw new Error(`${tfjsBundle}: not every ensemble member has the ONNX scoring path; run vqlm export-onnx ${tfjsBundle}`);
    memberBundle = join(tfjsBundle, ensemble.members[0]);
    label = `ensemble bundle ${tfjsBundle} (${ensemble.members.length} members)${values.bundle === undefined ? ' (findDefaultModel)' : ''}`;
  } else if (given !== null && given !== undefined) {
    tfjsBundle = resolve(given);
    label = `bundle ${tfjsBundle}${values.bundle === undefined ? ' (findDefaultModel)' : ''}`;
    const manifest = await readBundleManifest(tfjsBundle);
    if (onnxScoringFiles(manifest)) {
      onnxBundle = tfjsBundle;
    } else {
      // Same weights, plus the ONNX exports (the base decoder is referenced, not copied).
      const root = tfjsBundle;
      const at = (p: string): string => (isAbsolute(p) ? p : join(root, p));
      const { model, calibration } = await loadBundle(root, { engine: 'tfjs' });
      try {
        await saveBundle(model, onnxBundle, {
          onnx: true,
          calibration,
          decoderPath: at(manifest.files.decoder),
          ...(manifest.files.contextTower.kind === 'onnx' ? { contextTowerOnnx: at(manifest.files.contextTower.path) } : {}),
        });
      } finally {
        await model.dispose();
      }
    }
  } else {
    const preset = values.preset as CpLlmPresetName | undefined;
    const config = preset ? cpLlmPreset(preset) : vqlmTinyShape();
    const tokenizer = preset ? presetTokenizer(preset) : buildWordPieceTokenizer([CP_LLM_DEFAULTS.prompts.describe, CP_LLM_DEFAULTS.prompts.compare, 'the video is sharp and clean.'], { vocabSize: 384 });
    label = preset ? `preset ${preset} (random weights)` : 'no default model found: a random CP-LLM shaped like models/vqlm-tiny/train.json';
    const model = await CpLlm.create(config, { tokenizer });
    tfjsBundle = join(dir, 'bundle');
    try {
      await saveBundle(model, tfjsBundle);
      await saveBundle(model, onnxBundle, { onnx: true });
    } finally {
      await model.dispose();
    }
  }

  // Both scorers open at once and alternate clip by clip, so that load changes on the shared
  // machine hit both columns alike; the median of the runs is reported.
  const stages = ['decodeMs', 'contextMs', 'pixelMs', 'headMs', 'describeMs'] as const;
  type Stage = (typeof stages)[number];
  const engines = ['tfjs', 'onnx'] as const;
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((x, y) => x - y);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  };
  const summarise = (list: ScoreTiming[]): Record<Stage | 'total', number> => {
    const out = { total: median(list.map((t) => stages.reduce((n, stage) => n + (t[stage] ?? 0), 0))) } as Record<Stage | 'total', number>;
    for (const stage of stages) out[stage] = median(list.map((t) => t[stage] ?? 0));
    return out;
  };
  /** Scores the clip with a tfjs and an ONNX scorer of `bundles`, alternating after a warm-up; the median timing of each. */
  const timeEngines = async (bundles: Record<(typeof engines)[number], string>): Promise<Record<(typeof engines)[number], Record<Stage | 'total', number>>> => {
    const scorers = { tfjs: await createScorer(bundles.tfjs, { engine: 'tfjs' }), onnx: await createScorer(bundles.onnx, { engine: 'onnx' }) };
    const runs: Record<(typeof engines)[number], ScoreTiming[]> = { tfjs: [], onnx: [] };
    try {
      for (const engine of engines) await scorers[engine].score(clip, { describe: true }); // warm-up (kernels, ORT sessions)
      for (let i = 0; i < reps; i++) {
        for (const engine of engines) await scorers[engine].score(clip, { describe: true, onTiming: (t) => runs[engine].push(t) });
      }
    } finally {
      await scorers.tfjs.dispose();
      await scorers.onnx.dispose();
    }
    return { tfjs: summarise(runs.tfjs), onnx: summarise(runs.onnx) };
  };
  const { tfjs, onnx } = await timeEngines({ tfjs: tfjsBundle, onnx: onnxBundle });

  const c = (await readBundleManifest(memberBundle ?? tfjsBundle)).config;
  const names: Record<(typeof stages)[number], string> = {
    decodeMs: 'decode + views (video-io sampleViews)',
    contextMs: 'context encoder (frozen tower; + projector in tfjs)',
    pixelMs: 'pixel encoder (ViT, projector, mean over K, layer norm)',
    headMs: 'quality head (pooling, MLP; + context projector in ONNX)',
    describeMs: `decoder: description (≤ ${c.maxDescriptionTokens} tokens)`,
  };
  const s = (ms: number): string => (ms / 1000).toFixed(4);
  console.log(`\nModel: ${label}`);
  console.log(`M = ${c.m}, K = ${c.k}, context ${c.contextSize}² ViT ${c.contextVit.hiddenSize}×${c.contextVit.numLayers}, pixel ${c.patchSize}² ViT ${c.pixelVit.hiddenSize}×${c.pixelVit.numLayers}, decoder D = ${c.decoder.hiddenSize} × ${c.decoder.numHiddenLayers} layers`);
  console.log(`Clip: ${values.source} looped and scaled to ${info.width}x${info.height}, ${info.duration.toFixed(1)} s; tfjs backend ${backend.name}; median of ${reps} runs per engine (alternating) after a warm-up\n`);
  console.log('| stage | tfjs (s) | ONNX Runtime (s) | ONNX / tfjs |');
  console.log('|---|---:|---:|---:|');
  for (const stage of stages) console.log(`| ${names[stage]} | ${s(tfjs[stage])} | ${s(onnx[stage])} | ${(onnx[stage] / tfjs[stage]).toFixed(2)} |`);
  console.log(`| **total per clip** (median of the run totals) | ${s(tfjs.total)} | ${s(onnx.total)} | ${(onnx.total / tfjs.total).toFixed(2)} |`);

  // LMM-VQA: the same clip through a random LMM-VQA shaped like the apps/trainer README's LMM
  // config, in tfjs and in ONNX Runtime (its whole scoring path: encoders, decoder, level head).
  {
    const lmm = new LmmVqa(
      createLmmVqaConfig({
        m: 4,
        spatialVit: vitConfig('micro', { imageSize: 64, patchSize: 16, hiddenSize: 32, numLayers: 1, numHeads: 2, mlpDim: 64, classToken: false }),
        temporal: { numFrames: 16, imageSize: 112, hiddenSize: 48, numLayers: 2, numHeads: 4, mlpDim: 96 },
        decoder: createGemmaConfig({ vocabSize: 384, hiddenSize: 48, intermediateSize: 96, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 12 }),
      }),
      { tokenizer: buildWordPieceTokenizer([LMM_VQA_PROMPT, lmmVqaAnswer(3.42, 'fair')], { vocabSize: 384 }) },
    );
    const lmmBundle = join(dir, 'lmm-bundle');
    try {
      await saveBundle(lmm, lmmBundle, { onnx: true });
    } finally {
      await lmm.dispose();
    }
    const { tfjs: lt, onnx: lo } = await timeEngines({ tfjs: lmmBundle, onnx: lmmBundle });
    const lmmStages: [Stage, string][] = [
      ['decodeMs', 'decode (4 key frames at 64², 16 clip frames at 112²)'],
      ['headMs', 'rate: spatial + temporal encoders, decoder to the question, level head'],
      ['describeMs', 'answer: greedy decoding (≤ 24 tokens)'],
    ];
    console.log('\nLMM-VQA (random weights; 64² spatial ViT 32×1, temporal encoder 16 × 112², decoder D = 48 × 2 layers), same clip and runs\n');
    console.log('| stage | tfjs (s) | ONNX Runtime (s) | ONNX / tfjs |');
    console.log('|---|---:|---:|---:|');
    for (const [stage, name] of lmmStages) console.log(`| ${name} | ${s(lt[stage])} | ${s(lo[stage])} | ${(lo[stage] / lt[stage]).toFixed(2)} |`);
    console.log(`| **total per clip** | ${s(lt.total)} | ${s(lo.total)} | ${(lo.total / lt.total).toFixed(2)} |`);
  }

  // Training: optimiser steps per second of the multi-task objective on a batch of 8 rows (4 single
  // videos, 4 pairs) with every trainable part of the model, against the forward pass of the same
  // batch in the same run (a step is a forward, a backward and an Adam update: ~3× a forward).
  // An ensemble: one member (each member trains alone).
  const { model } = await loadBundle(memberBundle ?? tfjsBundle, { engine: 'tfjs' });
  try {
    const b = 8;
    const cfg = model.config;
    const bytes = (n: number, seed: number): Uint8Array => {
      const rng = createRng(seed);
      return Uint8Array.from({ length: n }, () => rng.int(256));
    };
    const features = await model.encodeContext({ data: bytes(b * cfg.m * cfg.contextSize * cfg.contextSize * 3, 1), dims: [b, cfg.m, cfg.contextSize, cfg.contextSize, 3] });
    const pixel = (seed: number) => ({ data: bytes(b * cfg.m * cfg.k * cfg.patchSize * cfg.patchSize * 3, seed), dims: [b, cfg.m, cfg.k, cfg.patchSize, cfg.patchSize, 3] });
    const ids = model.tokenizer.encode('the video shows a meadow. technically, it was re-encoded with h.264 at crf 31; its quality is fair and blocking is visible.').slice(0, cfg.maxDescriptionTokens);
    const bos = model.tokenizer.bosTokenId ?? 0;
    const batch: CpLlmTrainBatch = {
      first: { contextFeatures: features, pixel: pixel(2) },
      second: { contextFeatures: features, pixel: pixel(3) },
      secondVisible: [false, false, false, false, true, true, true, true],
      inputIds: Array.from({ length: b }, () => [bos, ...ids]),
      labels: Array.from({ length: b }, () => [...ids, -100]),
      scoreTargets: [4.5, 3.2, 2.1, 1.4, null, null, null, null],
      rankLabels: [null, null, null, null, [4, 2], [1, 3], [3, 2], [2, 5]],
    };
    const optimizer = tf.train.adam(1e-4);
    const variables = model.trainableVariables();
    const step = (): void => {
      const loss = optimizer.minimize(() => cpLlmObjective(model, batch).total, true, variables);
      loss?.dataSync();
      loss?.dispose();
    };
    const forward = (): void => {
      tf.tidy(() => cpLlmObjective(model, batch).total.dataSync());
    };
    step();
    forward();
    const time = (fn: () => void, n: number): number => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn();
      return (performance.now() - t0) / 1000 / n;
    };
    const n = Math.max(3, reps);
    const stepS = time(step, n);
    const forwardS = time(forward, n);
    optimizer.dispose();
    features.dispose();
    console.log(`\nTraining (tfjs ${backend.name}, batch ${b}: 4 single videos + 4 pairs, ${variables.length} trainable tensors, ${ids.length + 1} target tokens; mean of ${n} steps after a warm-up)\n`);
    console.log('| measure | value |');
    console.log('|---|---:|');
    console.log(`| optimiser steps per second | ${(1 / stepS).toFixed(3)} |`);
    console.log(`| forward passes per second (reference) | ${(1 / forwardS).toFixed(3)} |`);
    console.log(`| step time / forward time | ${(stepS / forwardS).toFixed(2)} |`);
  } finally {
    await model.dispose();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
