/**
 * Benchmarks of @vqlm/datasets (not tests). Run: pnpm --filter @vqlm/datasets bench
 *
 * 1. Corpus build from ../shared/corpus/sources/ with the default ladder
 *    (H.264 CRF 15..53 step 2): wall time, and per variant the builder's time
 *    (encode + bookkeeping, VMAF/PSNR/SSIM aside) next to a bare ffmpeg
 *    encode of the same variant with the same arguments, in the same run.
 * 2. Loading the LSVQ label files and sampling one epoch of a PairSampler,
 *    each next to a bare reference (read + split lines; one seeded shuffle).
 *
 * Environment: BENCH_SOURCES (comma-separated file names; default all),
 * BENCH_SEGMENT_SECONDS (default 4), BENCH_MAX_SEGMENTS (default 0 = all),
 * BENCH_CRF (default 15:53:2), BENCH_JOBS (default 1), BENCH_SKIP_CORPUS=1.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeVariants, resolveBinaries, type LadderStep } from '@vqlm/video-io';
import {
  PairSampler,
  Prng,
  buildCorpus,
  createLabelLoaderRegistry,
  expandLadder,
  h264Recipes,
  loadLabels,
  parseCrfRange,
  readVariantTimings,
  type ManifestEntry,
} from '../src/index.js';

const shared = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
const env = (name: string, fallback: string) => process.env[name] ?? fallback;

function ffmpeg(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(resolveBinaries().ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(performance.now() - t0) : fail(new Error(err))));
  });
}

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);

async function corpusBench(rows: string[][]): Promise<void> {
  const dir = join(shared, 'corpus', 'sources');
  const only = process.env.BENCH_SOURCES?.split(',').map((s) => s.trim());
  const sources = only ? only.map((name) => join(dir, name)) : dir;
  const segmentSeconds = Number(env('BENCH_SEGMENT_SECONDS', '4'));
  const maxSegments = Number(env('BENCH_MAX_SEGMENTS', '0'));
  const crf = env('BENCH_CRF', '15:53:2');
  const jobs = Number(env('BENCH_JOBS', '1'));
  const out = await mkdtemp(join(tmpdir(), 'vqlm-bench-corpus-'));
  try {
    let last = 0;
    const t0 = performance.now();
    const result = await buildCorpus({
      sources,
      out,
      ladder: h264Recipes(parseCrfRange(crf)),
      segmentSeconds,
      ...(maxSegments > 0 ? { maxSegmentsPerSource: maxSegments } : {}),
      vmafModel: join(shared, 'vmaf', 'vmaf_v0.6.1.pkl'),
      concurrency: jobs,
      onProgress: (e) => {
        if (e.phase === 'variant' && e.done - last >= 20) {
          last = e.done;
          process.stderr.write(`  ${e.done}/${e.total} variants, ETA ${((e.etaMs ?? 0) / 1000).toFixed(0)} s\n`);
        }
      },
    });
    const wall = performance.now() - t0;
    const timings = new Map((await readVariantTimings(out)).map((t) => [t.id, t.timing]));
    // Bare ffmpeg encodes of the same variants with the same arguments,
    // interleaved with a fresh makeVariants call of the same step, so both
    // see the same machine load (the machine is shared).
    let bare = 0;
    let again = 0;
    let builder = 0;
    let metrics = 0;
    let encode = 0;
    const variants = result.entries.filter((e) => (e.variant?.level ?? 0) > 0);
    for (const v of variants) {
      const segment = join(out, result.entries.find((e) => e.id === v.referenceId)!.path);
      const { ffmpegArgs, ...step } = v.variant!.recipe;
      bare += await ffmpeg(['-loglevel', 'error', '-i', `file:${segment}`, ...ffmpegArgs!, '-y', `file:${join(out, 'bare.mp4')}`]);
      const t0 = performance.now();
      await makeVariants(segment, { outDir: join(out, 'again'), ladder: [step as LadderStep] });
      again += performance.now() - t0;
      const t = timings.get(v.id)!;
      builder += t.totalMs - t.metricsMs;
      encode += t.encodeMs;
      metrics += t.metricsMs;
    }
    const n = variants.length;
    const frames = `${result.sources} sources${only ? ` (${only.join(', ')})` : ''}, ${result.segments} segments of ≤ ${segmentSeconds} s${maxSegments > 0 ? ` (≤ ${maxSegments}/source)` : ''}, CRF ${crf}, ${n} variants, jobs ${jobs}`;
    rows.push(['corpus build, wall (all steps incl. VMAF)', fmt(wall), '—', '—', frames]);
    rows.push(['per variant: makeVariants (video-io) vs bare ffmpeg, interleaved', fmt(again / n), fmt(bare / n), (again / bare).toFixed(3), 'same step, same args, alternating; reference: bare `ffmpeg -i seg <recipe.ffmpegArgs> out`']);
    rows.push(['per variant in the build: encode + bookkeeping', fmt(builder / n), fmt(bare / n), (builder / bare).toFixed(3), 'from the build records (load differs from the bare pass)']);
    rows.push(['per variant in the build: bookkeeping only', fmt((builder - encode) / n), fmt(encode / n), ((builder - encode) / encode).toFixed(4), 'renames, record, scheduling vs. its own encode']);
    rows.push(['per variant in the build: PSNR+SSIM+VMAF', fmt(metrics / n), fmt(encode / n), (metrics / encode).toFixed(3), 'fullReference vs. its own encode']);
    if (result.skipped.length || result.failed.length) {
      rows.push(['problems', `${result.skipped.length} skipped, ${result.failed.length} failed`, '', '', JSON.stringify([...result.skipped, ...result.failed])]);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function labelBench(rows: string[][]): Promise<void> {
  const registry = createLabelLoaderRegistry();
  const files: [string, string][] = [
    ['lsvq-train', 'dover-LSVQ-labels.txt'],
    ['lsvq-test', 'dover-LSVQ-labels_test.txt'],
    ['lsvq-test-1080p', 'dover-LSVQ-labels_1080p.txt'],
  ];
  const reps = 5;
  let load = 0;
  let raw = 0;
  let train: ManifestEntry[] = [];
  let count = 0;
  for (let r = 0; r < reps; r++) {
    for (const [id, file] of files) {
      const path = join(shared, 'labels', file);
      let t0 = performance.now();
      const text = await readFile(path, 'utf8');
      let sum = 0;
      for (const line of text.split('\n')) if (line) sum += Number(line.split(',')[3]);
      raw += performance.now() - t0;
      if (sum < 0) throw new Error('impossible');
      t0 = performance.now();
      const set = await loadLabels(registry.get(id), path);
      load += performance.now() - t0;
      if (id === 'lsvq-train') train = set.entries;
      if (r === 0) count += set.entries.length;
    }
  }
  rows.push(['load LSVQ train+test+1080p labels', fmt(load / reps), fmt(raw / reps), (load / raw).toFixed(2), `${count} rows; reference: readFile + split + Number()`]);

  // A virtual 20-level ladder per LSVQ train video (no files), then one epoch.
  const recipes = h264Recipes();
  const entries = train.flatMap((src) =>
    expandLadder(src, recipes, (_r, level) => `${src.path}#${level}`).map((e) =>
      e.variant!.level === 0 ? e : { ...e, pseudoMos: { method: 'order-only' as const } },
    ),
  );
  const options = { batchSize: 32, pairRatio: 0.5, seed: 1 };
  let t0 = performance.now();
  const sampler = new PairSampler(entries, options);
  let items = 0;
  for (const b of sampler.restOfEpoch()) items += b.items.length;
  const epoch = performance.now() - t0;
  t0 = performance.now();
  const shuffled = new Prng(1).shuffle(entries);
  const ref = performance.now() - t0;
  if (shuffled.length !== entries.length) throw new Error('impossible');
  rows.push([
    'PairSampler: build + 1 epoch',
    fmt(epoch),
    fmt(ref),
    (epoch / ref).toFixed(1),
    `${entries.length} entries (LSVQ train × 21 levels), ${items} items, batch 32, pairRatio 0.5; reference: one seeded shuffle`,
  ]);
}

const rows: string[][] = [];
await labelBench(rows);
if (process.env.BENCH_SKIP_CORPUS !== '1') await corpusBench(rows);
const header = ['benchmark', 'time', 'reference', 'ratio', 'notes'];
const lines = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`);
process.stdout.write(`${lines.join('\n')}\n`);
