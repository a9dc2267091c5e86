// pnpm --filter @vqlm/runtime bench
// 256×768 · 768×768 float32 matmul on each tfjs backend that loads here, with
// ONNX Runtime (CPU EP) on the same product as the reference, plus the
// training kernels vqlm adds to wasm (patch-embedding filter gradient,
// embedding gradient) on wasm vs cpu.
import { cpus } from 'node:os';
import { matMulModel } from '../src/__fixtures__/onnx-model.js';
import { BACKEND_ORDER, createOnnxSession, createRng, initBackend, tf, type BackendName } from '../src/index.js';

const M = 256;
const K = 768;
const N = 768;
const FLOP = 2 * M * K * N;

function randomData(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Median seconds per call over `reps` timed calls after `warmup` calls. */
async function time(fn: () => Promise<void> | void, warmup: number, reps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const a = randomData(M * K, 1);
const b = randomData(K * N, 2);

const rows: { what: string; gflops: number }[] = [];

const session = await createOnnxSession(matMulModel(M, K, N), { executionProviders: ['cpu'] });
const ortSeconds = await time(async () => {
  await session.run({ a: { data: a, dims: [M, K] }, b: { data: b, dims: [K, N] } });
}, 5, 30);
await session.dispose();
const reference = FLOP / ortSeconds / 1e9;
rows.push({ what: 'onnxruntime-node (cpu EP), reference', gflops: reference });
console.error(`onnxruntime-node: ${reference.toFixed(1)} GFLOP/s`);

const available: BackendName[] = [];
for (const name of BACKEND_ORDER) {
  try {
    await initBackend({ backend: name, log: () => {} });
  } catch (error) {
    console.error(`skip ${name}: ${(error as Error).message.slice(0, 160)}`);
    continue;
  }
  available.push(name);
  const ta = tf.tensor2d(a, [M, K]);
  const tb = tf.tensor2d(b, [K, N]);
  const reps = name === 'cpu' ? 3 : 20;
  const seconds = await time(async () => {
    const c = tf.matMul(ta, tb);
    await c.data();
    c.dispose();
  }, name === 'cpu' ? 1 : 3, reps);
  tf.dispose([ta, tb]);
  rows.push({ what: `tfjs ${name}`, gflops: FLOP / seconds / 1e9 });
  console.error(`tfjs ${name}: ${(FLOP / seconds / 1e9).toFixed(1)} GFLOP/s`);
}

// Kernels vqlm registers for wasm, against the same gradient on cpu.
const kernelRows: { what: string; backend: string; ms: number }[] = [];
for (const name of available.filter((n) => n === 'wasm' || n === 'cpu')) {
  await initBackend({ backend: name, log: () => {} });
  // ViT-S patch embedding: 2 frames 224×224×3, 16×16 patches → 384.
  const x = tf.tensor4d(randomData(2 * 224 * 224 * 3, 3), [2, 224, 224, 3]);
  const w = tf.tensor4d(randomData(16 * 16 * 3 * 384, 4), [16, 16, 3, 384]);
  const patchGrad = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 16, 'valid')));
  const convMs = await time(async () => {
    const g = patchGrad(w);
    await g.data();
    g.dispose();
  }, 1, 3) * 1000;
  console.error(`${name} conv2d filter gradient: ${convMs.toFixed(1)} ms`);
  kernelRows.push({ what: 'conv2d filter gradient, [2,224,224,3] * [16,16,3,384] stride 16', backend: name, ms: convMs });
  // Embedding gradient: 1024 token ids into a 2000 × 64 table (tfjs's cpu kernel
  // loops over every segment with a full-size mask, so larger tables take minutes there).
  const table = tf.tensor2d(randomData(2000 * 64, 5), [2000, 64]);
  const ids = tf.tensor1d(Int32Array.from({ length: 1024 }, (_, i) => (i * 7919) % 2000), 'int32');
  const embGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)));
  const gatherMs = await time(async () => {
    const g = embGrad(table);
    await g.data();
    g.dispose();
  }, 1, 3) * 1000;
  kernelRows.push({ what: 'gather gradient (UnsortedSegmentSum), 1024 ids into [2000,64]', backend: name, ms: gatherMs });
  tf.dispose([x, w, table, ids]);
}

console.log(`\nmatmul ${M}×${K} · ${K}×${N} float32 (${(FLOP / 1e9).toFixed(3)} GFLOP), ${cpus().length} cores, Node ${process.version}\n`);
console.log('| engine | GFLOP/s | ratio to ONNX Runtime |');
console.log('|---|---:|---:|');
for (const row of rows) console.log(`| ${row.what} | ${row.gflops.toFixed(1)} | ${(row.gflops / reference).toFixed(3)} |`);
if (kernelRows.length > 0) {
  const cpuMs = (what: string) => kernelRows.find((r) => r.what === what && r.backend === 'cpu')?.ms;
  console.log('\n| kernel (training) | backend | ms | speed-up over cpu |');
  console.log('|---|---|---:|---:|');
  for (const row of kernelRows) {
    const base = cpuMs(row.what);
    console.log(`| ${row.what} | ${row.backend} | ${row.ms.toFixed(1)} | ${base ? (base / row.ms).toFixed(1) + '×' : '–'} |`);
  }
}
