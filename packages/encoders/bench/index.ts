/**
 * `pnpm --filter @vqlm/encoders bench`: pixel-encoder forward at ViT-S/16 and
 * ViT-B/16 on K = 8 patches of 224², and one training step of a ViT-Ti/16
 * pixel encoder, on each available tfjs backend and (inference) on ONNX
 * Runtime with the exported model. References measured in the same run:
 * ONNX Runtime on one large MatMul (the machine's ceiling) and the tfjs wasm
 * backend on the same MatMul.
 *
 * Flags: `--cpu-full` also runs ViT-S/B on the (30× slower) cpu backend;
 * `--reps N` timed repetitions after one warm-up (default 3, median
 * reported; 1 on the cpu backend).
 */
import { cpus } from 'node:os';
import { createOnnxSession, initBackend, tf, type BackendName } from '@vqlm/runtime';
import { OnnxGraphBuilder, PixelEncoder, vitConfig, vitToOnnx, type VitConfig } from '../src/index.js';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1]) || 3;
const cpuFull = args.includes('--cpu-full');
const K = 8;
const D = 256;

interface Row {
  engine: string;
  workload: string;
  gflop: number;
  ms: number;
}
const rows: Row[] = [];
function record(row: Row): void {
  rows.push(row);
  process.stderr.write(`${row.engine}: ${row.workload}: ${row.ms.toFixed(0)} ms\n`);
}

let slow = false;

async function median(run: () => Promise<void>): Promise<number> {
  await run(); // warm-up
  const times: number[] = [];
  const n = slow ? 1 : reps;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Multiply-adds ×2 of a ViT forward over `batch` images (patch embedding, blocks, attention). */
function vitGflop(c: VitConfig, batch: number): number {
  const n = (c.imageSize / c.patchSize) ** 2;
  const t = n + (c.classToken ? 1 : 0);
  const h = c.hiddenSize;
  const patch = 2 * n * c.patchSize * c.patchSize * c.channels * h;
  const block = 2 * t * h * h * 4 + 2 * t * h * c.mlpDim * 2 + 2 * t * t * h * 2;
  return (batch * (patch + c.numLayers * block)) / 1e9;
}

function pixelGflop(c: VitConfig): number {
  const t = c.imageSize ** 2 / c.patchSize ** 2 + (c.classToken ? 1 : 0);
  return vitGflop(c, K) + (2 * K * t * c.hiddenSize * D) / 1e9;
}

const MM = { m: 512, k: 768, n: 768 };
const mmGflop = (2 * MM.m * MM.k * MM.n) / 1e9;

async function ortCeiling(when: string): Promise<void> {
  const g = new OnnxGraphBuilder();
  const a = g.input({ name: 'a', dtype: 'float32', dims: [MM.m, MM.k] });
  const b = g.floats('b', Float32Array.from({ length: MM.k * MM.n }, (_, i) => Math.sin(i)), [MM.k, MM.n]);
  g.output(g.node('MatMul', [a, b]), { name: 'c', dtype: 'float32', dims: [MM.m, MM.n] });
  const session = await createOnnxSession(g.toBytes());
  const data = Float32Array.from({ length: MM.m * MM.k }, (_, i) => Math.cos(i));
  const ms = await median(async () => {
    await session.run({ a: { data, dims: [MM.m, MM.k] } });
  });
  record({ engine: 'onnxruntime', workload: `MatMul ${MM.m}×${MM.k}·${MM.k}×${MM.n} (ceiling, ${when})`, gflop: mmGflop, ms });
  await session.dispose();
}

async function tfjsMatmul(engine: string): Promise<void> {
  const a = tf.randomNormal([MM.m, MM.k]);
  const b = tf.randomNormal([MM.k, MM.n]);
  const ms = await median(async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  });
  record({ engine, workload: `MatMul ${MM.m}×${MM.k}·${MM.k}×${MM.n}`, gflop: mmGflop, ms });
  tf.dispose([a, b]);
}

async function tfjsPixelForward(engine: string, name: string, c: VitConfig): Promise<void> {
  const encoder = new PixelEncoder({ vit: c, outputDim: D });
  const patches = tf.randomUniform([1, K, 224, 224, 3], 0, 256, 'int32');
  const ms = await median(async () => {
    const out = encoder.forward(patches);
    await out.data();
    out.dispose();
  });
  record({ engine, workload: `pixel encoder forward ${name}, K=${K}`, gflop: pixelGflop(c), ms });
  patches.dispose();
  encoder.dispose();
}

async function tfjsTrainStep(engine: string): Promise<void> {
  const c = vitConfig('tiny');
  const encoder = new PixelEncoder({ vit: c, outputDim: D });
  const optimizer = tf.train.adam(1e-4);
  const patches = tf.randomUniform([1, K, 224, 224, 3], 0, 256, 'int32');
  const ms = await median(async () => {
    const loss = optimizer.minimize(() => tf.mean(tf.square(encoder.forward(patches))), true, encoder.trainableVariables());
    await loss!.data();
    loss!.dispose();
  });
  // Backward ≈ 2× forward (input and weight gradients).
  record({ engine, workload: `training step ViT-Ti/16 pixel encoder, K=${K}`, gflop: 3 * pixelGflop(c), ms });
  tf.dispose(patches);
  optimizer.dispose();
  encoder.dispose();
}

async function ortPixelForward(name: string, c: VitConfig): Promise<void> {
  const encoder = new PixelEncoder({ vit: c, outputDim: D });
  const bytes = await vitToOnnx(encoder.vit, { inputLayout: 'nhwc' });
  encoder.dispose();
  const session = await createOnnxSession(bytes);
  const data = Float32Array.from({ length: K * 224 * 224 * 3 }, (_, i) => Math.sin(i));
  const ms = await median(async () => {
    await session.run({ pixel_values: { data, dims: [K, 224, 224, 3] } });
  });
  record({ engine: 'onnxruntime', workload: `pixel encoder forward ${name}, K=${K} (exported ViT)`, gflop: vitGflop(c, K), ms });
  await session.dispose();
}

async function main(): Promise<void> {
  console.log(`cpus: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; reps ${reps} (median)`);
  await initBackend({ backend: 'wasm', log: () => undefined }); // to build the models that are exported
  await ortCeiling('start');
  await ortPixelForward('ViT-S/16', vitConfig('small'));
  await ortPixelForward('ViT-B/16', vitConfig('base'));
  const backends: BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];
  for (const backend of backends) {
    try {
      await initBackend({ backend, log: () => undefined });
    } catch {
      console.log(`backend ${backend}: not available, skipped`);
      continue;
    }
    const engine = `tfjs-${backend}`;
    slow = backend === 'cpu'; // one timed repetition on the 30× slower backend
    await tfjsMatmul(engine);
    if (backend !== 'cpu' || cpuFull) {
      await tfjsPixelForward(engine, 'ViT-S/16', vitConfig('small'));
      await tfjsPixelForward(engine, 'ViT-B/16', vitConfig('base'));
    } else {
      console.log('backend cpu: ViT-S/B forward skipped (pass --cpu-full)');
    }
    await tfjsTrainStep(engine);
  }

  slow = false;
  await ortCeiling('end');
  // The machine is shared: the ceiling is the better of the two measurements.
  const ceiling = Math.max(...rows.filter((r) => r.workload.includes('ceiling')).map((r) => r.gflop / (r.ms / 1e3)));
  const wasmRow = rows.find((r) => r.engine === 'tfjs-wasm' && r.workload.startsWith('MatMul'));
  const wasmRate = wasmRow ? wasmRow.gflop / (wasmRow.ms / 1e3) : NaN;
  const lines = [
    '| engine | workload | GFLOP | ms | GFLOP/s | % of ORT MatMul | % of wasm MatMul |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const rate = r.gflop / (r.ms / 1e3);
    lines.push(
      `| ${r.engine} | ${r.workload} | ${r.gflop.toFixed(2)} | ${r.ms.toFixed(0)} | ${rate.toFixed(1)} | ${((100 * rate) / ceiling).toFixed(0)}% | ${Number.isNaN(wasmRate) ? '–' : `${((100 * rate) / wasmRate).toFixed(0)}%`} |`,
    );
  }
  console.log(lines.join('\n'));
  const rate = (r: Row | undefined): number => (r ? r.gflop / (r.ms / 1e3) : NaN);
  const ortS = rate(rows.find((r) => r.engine === 'onnxruntime' && r.workload.includes('ViT-S')));
  const ortB = rate(rows.find((r) => r.engine === 'onnxruntime' && r.workload.includes('ViT-B')));
  const train = rate(rows.find((r) => r.engine === 'tfjs-wasm' && r.workload.startsWith('training')));
  console.log(
    `\ntarget ORT inference ≥ 60% of ceiling: ViT-S ${((100 * ortS) / ceiling).toFixed(0)}%, ViT-B ${((100 * ortB) / ceiling).toFixed(0)}%` +
      `\ntarget tfjs training step ≥ 40% of wasm MatMul: ${((100 * train) / wasmRate).toFixed(0)}%`,
  );
}

await main();
