/**
 * `pnpm --filter @vqlm/decoder-lora bench`
 *
 * 1. Prefill and decode tokens/s of a tiny and a ~100M-parameter Gemma-style decoder on every
 *    tensor backend that loads here. Reference measured in the same run on the same backend: a
 *    [256×768]·[768×768] float32 matmul (the DESIGN.md yardstick); ratio = the decoder's achieved
 *    GFLOP/s (2 × parameters per token) / the matmul's GFLOP/s.
 * 2. Peak RSS of a fresh process that loads a ~1 GB float32 checkpoint written here (sharded),
 *    against the file size (target: ≤ 1.3×).
 * Not a test. BENCH_QUICK=1 skips the 100M config and uses a ~300 MB checkpoint;
 * BENCH_BACKENDS=wasm,cpu limits the backends tried; BENCH_PARTS=memory runs one part.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_ORDER, createRng, initBackend, tf } from '@vqlm/runtime';
import { createGemmaConfig, GemmaDecoder, initGemmaWeights, saveGemmaCheckpoint, expectedGemmaTensors, type GemmaConfig } from '../src/index.js';

const quick = process.env.BENCH_QUICK === '1';
const here = dirname(fileURLToPath(import.meta.url));

const configs: { label: string; config: GemmaConfig; prefill: number; decode: number }[] = [
  {
    label: 'tiny (D=64, 2 layers, V=256)',
    config: createGemmaConfig({ vocabSize: 256, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 16 }),
    prefill: 64,
    decode: 32,
  },
  {
    label: '~100M (D=768, 10 layers, MQA, V=32000)',
    config: createGemmaConfig({ vocabSize: 32000, hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 10, numAttentionHeads: 12, numKeyValueHeads: 1, headDim: 64 }),
    prefill: 64,
    decode: 16,
  },
];

function parameterCount(config: GemmaConfig): number {
  let total = 0;
  for (const shape of expectedGemmaTensors(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

function time<T>(fn: () => T): { value: T; seconds: number } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function matmulGflops(): number {
  const a = tf.randomNormal([256, 768]);
  const b = tf.randomNormal([768, 768]);
  tf.matMul(a, b).dispose();
  let reps = 0;
  const start = process.hrtime.bigint();
  let seconds = 0;
  while (seconds < 1 || reps < 3) {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
    reps += 1;
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
  }
  tf.dispose([a, b]);
  return (2 * 256 * 768 * 768 * reps) / seconds / 1e9;
}

interface Row {
  backend: string;
  model: string;
  params: string;
  prefill: string;
  decode: string;
  reference: string;
  ratio: string;
}

function benchModel(backend: string, entry: (typeof configs)[number], referenceGflops: number): Row {
  const { config } = entry;
  const params = parameterCount(config);
  const decoder = new GemmaDecoder(config, initGemmaWeights(config, createRng(1)));
  const rng = createRng(2);
  const prompt = [Array.from({ length: entry.prefill }, () => rng.int(config.vocabSize))];
  // Warm-up (kernel compilation, allocator).
  const warm = decoder.prefill({ tokenIds: [prompt[0].slice(0, 4)] });
  warm.logits.dispose();
  decoder.decodeStep(warm.cache, [[1]]).dispose();
  warm.cache.dispose();

  const pre = time(() => {
    const out = decoder.prefill({ tokenIds: prompt });
    out.logits.dataSync();
    return out;
  });
  pre.value.logits.dispose();
  const cache = pre.value.cache;
  const dec = time(() => {
    let next = 1;
    for (let i = 0; i < entry.decode; i += 1) {
      const logits = decoder.decodeStep(cache, [[next]]);
      next = tf.tidy(() => tf.argMax(tf.reshape(logits, [-1])).dataSync()[0]);
      logits.dispose();
    }
  });
  cache.dispose();
  decoder.dispose();
  const prefillTps = entry.prefill / pre.seconds;
  const decodeTps = entry.decode / dec.seconds;
  const achieved = (2 * params * prefillTps) / 1e9;
  return {
    backend,
    model: entry.label,
    params: `${(params / 1e6).toFixed(1)}M`,
    prefill: prefillTps.toFixed(1),
    decode: decodeTps.toFixed(1),
    reference: referenceGflops.toFixed(1),
    ratio: (achieved / referenceGflops).toFixed(2),
  };
}

function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

async function throughput(): Promise<void> {
  const rows: Row[] = [];
  const skipped: string[] = [];
  const only = process.env.BENCH_BACKENDS?.split(',');
  for (const backend of BACKEND_ORDER) {
    if (only !== undefined && !only.includes(backend)) continue;
    try {
      await initBackend({ backend, log: () => {} });
    } catch (error) {
      skipped.push(`${backend}: ${(error as Error).message.replace(/^.*failed to initialise: \S+: /, '').split(';')[0]}`);
      continue;
    }
    const reference = matmulGflops();
    for (const entry of quick ? configs.slice(0, 1) : configs) {
      console.error(`bench: ${backend} ${entry.label} ...`);
      rows.push(benchModel(backend, entry, reference));
    }
  }
  console.log('\nThroughput (batch 1; prefill of 64 tokens, then greedy decode with the KV cache)\n');
  printTable(
    ['backend', 'model', 'params', 'prefill tok/s', 'decode tok/s', 'matmul GFLOP/s (reference)', 'prefill GFLOP/s ÷ reference'],
    rows.map((r) => [r.backend, r.model, r.params, r.prefill, r.decode, r.reference, r.ratio]),
  );
  if (skipped.length > 0) console.log(`\nbackends not available here: ${skipped.join('; ')}`);
}

async function memory(): Promise<void> {
  // D=1024, 15 layers, MQA, V=32000: ~254M parameters = ~1.02 GB in float32.
  const config = createGemmaConfig({
    vocabSize: 32000,
    hiddenSize: 1024,
    intermediateSize: 4096,
    numHiddenLayers: quick ? 3 : 15,
    numAttentionHeads: 16,
    numKeyValueHeads: 1,
    headDim: 64,
  });
  const dir = await mkdtemp(join(tmpdir(), 'vqlm-decoder-bench-'));
  try {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    let seed = 1;
    for (const [name, shape] of expectedGemmaTensors(config)) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      // Cheap deterministic pattern: the values do not matter for memory, only that every byte is real.
      for (let i = 0; i < data.length; i += 1) data[i] = ((i * 2654435761 + seed) % 1000) / 50000 - 0.01;
      seed += 1;
      weights.set(name, { shape, data });
    }
    await saveGemmaCheckpoint(dir, { config, weights }, { maxShardBytes: 256 * 1024 * 1024 });
    weights.clear();
    let fileBytes = 0;
    for (const f of await readdir(dir)) if (f.endsWith('.safetensors')) fileBytes += (await stat(join(dir, f))).size;
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(here, 'load-rss.ts'), dir], { encoding: 'utf8', cwd: join(here, '..') });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { baselineRss: number; peakRss: number; seconds: number; tensors: number };
    const gb = (n: number) => `${(n / 1e9).toFixed(3)} GB`;
    console.log('\nPeak RSS loading a float32 checkpoint in a fresh process (cpu backend)\n');
    printTable(
      ['checkpoint (reference)', 'shards', 'baseline RSS before load', 'peak RSS', 'peak ÷ file', '(peak − baseline) ÷ file', 'load time'],
      [[gb(fileBytes), String((await readdir(dir)).filter((f) => f.endsWith('.safetensors')).length), gb(result.baselineRss), gb(result.peakRss), (result.peakRss / fileBytes).toFixed(2), ((result.peakRss - result.baselineRss) / fileBytes).toFixed(2), `${result.seconds.toFixed(1)} s`]],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`decoder-lora bench — ${cpus().length} CPU cores, Node ${process.version}${quick ? ' (BENCH_QUICK)' : ''}`);
const parts = process.env.BENCH_PARTS?.split(',') ?? ['throughput', 'memory'];
if (parts.includes('throughput')) await throughput();
if (parts.includes('memory')) await memory();
