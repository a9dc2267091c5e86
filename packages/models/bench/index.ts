// Scoring-path benchmark: decode (video-io sampleViews) vs scoring with the pixel / context
// towers in tfjs and in ONNX Runtime, on a random model with real tower sizes (ViT-Ti/16 pixel
// encoder, K = 8) and a 1080p clip made with ffmpeg. Prints a table; not a test.
//   pnpm --filter @vqlm/models bench [-- --m 2 --reps 2]
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWordPieceTokenizer, createGemmaConfig } from '@vqlm/decoder-lora';
import { vitConfig } from '@vqlm/encoders';
import { initBackend } from '@vqlm/runtime';
import { resolveBinaries, sampleViews } from '@vqlm/video-io';
import { CpLlm, createCpLlmConfig, loadBundle, saveBundle } from '../src/index.js';

const { values } = parseArgs({ options: { m: { type: 'string', default: '2' }, reps: { type: 'string', default: '2' } } });
const m = Number(values.m);
const reps = Number(values.reps);
const backend = await initBackend({ log: () => undefined });
const dir = await mkdtemp(join(tmpdir(), 'vqlm-models-bench-'));
try {
  const clip = join(dir, 'clip.mp4');
  execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=10', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '23', '-pix_fmt', 'yuv420p', clip]);
  const config = createCpLlmConfig({
    m,
    contextVit: vitConfig('tiny', { imageSize: 448, patchSize: 32, classToken: false, gelu: 'tanh', layerNormEps: 1e-6 }),
    pixelVit: vitConfig('tiny'),
    decoder: createGemmaConfig({ vocabSize: 128, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 16 }),
  });
  const tokenizer = buildWordPieceTokenizer(['describe the quality of this video.', 'compare the quality of these two videos.'], { vocabSize: 128 });
  const model = await CpLlm.create(config, { tokenizer });
  const bundle = join(dir, 'bundle');
  await saveBundle(model, bundle, { onnx: true });
  await model.dispose();
  const tfjs = (await loadBundle(bundle, { engine: 'tfjs' })).model;
  const onnx = (await loadBundle(bundle, { engine: 'onnx' })).model;

  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    await fn(); // warm-up
    const start = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    return (performance.now() - start) / reps;
  };
  const sample = () => sampleViews(clip, { m, context: { size: 448 }, pixel: { fit: [540, 1080], patch: 224, k: 8 } });
  const sampled = await sample();
  const views = { context: { data: sampled.context!.frames, dims: sampled.context!.shape }, pixel: { data: sampled.pixel!.frames, dims: sampled.pixel!.shape } };
  const decodeMs = await time(sample);
  const tfjsMs = await time(() => tfjs.scoreViews(views));
  const onnxMs = await time(() => onnx.scoreViews(views));
  const rows = [
    ['decode + views (video-io sampleViews)', decodeMs, decodeMs],
    [`encoders + head, tfjs-${backend.name}`, tfjsMs, tfjsMs],
    ['encoders + head, ONNX Runtime towers', onnxMs, tfjsMs],
  ] as const;
  console.log(`\nCP-LLM scoring, 1080p 10 s clip, M = ${m}, K = 8, ViT-Ti/16 pixel encoder, ViT-Ti/32 context tower at 448 (${reps} reps)\n`);
  console.log('| stage | ms per clip | ratio to reference (tfjs row for ONNX) |');
  console.log('|---|---:|---:|');
  for (const [name, ms, ref] of rows) console.log(`| ${name} | ${ms.toFixed(0)} | ${(ms / ref).toFixed(2)} |`);
  await tfjs.dispose();
  await onnx.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}
