/**
 * `pnpm --filter @vqlm/video-io bench`: sampleKeyFrames + both CP-LLM views
 * for M = 8 against bare ffmpeg decoding the same frames to null, with the
 * same binary, in the same run. Prints a Markdown table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  contextView,
  keyFrameIndices,
  pixelView,
  probe,
  resolveBinaries,
  sampleKeyFrames,
  sampleViews,
  type SamplingStrategy,
} from '../src/index.js';

const M = 8;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const here = dirname(fileURLToPath(import.meta.url));
const ffmpeg = resolveBinaries().ffmpeg;

function makeClip(path: string, width: number, height: number, seconds: number): void {
  execFileSync(ffmpeg, [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=30:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '23',
    '-pix_fmt',
    'yuv420p',
    path,
  ]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(run: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

function bareSelect(file: string, indices: number[]): void {
  const select = `select='${indices.map((i) => `eq(n\\,${i})`).join('+')}'`;
  execFileSync(ffmpeg, [
    '-v',
    'error',
    '-nostdin',
    '-i',
    `file:${file}`,
    '-map',
    '0:v:0',
    '-vf',
    select,
    '-vsync',
    'passthrough',
    '-f',
    'null',
    '-',
  ]);
}

function bareSeeks(file: string, times: number[]): void {
  for (const t of times) {
    execFileSync(ffmpeg, [
      '-v',
      'error',
      '-nostdin',
      '-ss',
      t.toFixed(6),
      '-i',
      `file:${file}`,
      '-map',
      '0:v:0',
      '-frames:v',
      '1',
      '-f',
      'null',
      '-',
    ]);
  }
}

async function pipeline(file: string, strategy: SamplingStrategy): Promise<void> {
  const keyFrames = await sampleKeyFrames(file, { m: M, strategy });
  contextView(keyFrames);
  pixelView(keyFrames);
}

function peakRss(file: string, strategy: string, what = 'run'): number {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(here, 'peak-rss.ts'), file, strategy, what],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  return (JSON.parse(child.stdout.trim().split('\n').pop()!) as { maxRssMiB: number }).maxRssMiB;
}

const dir = mkdtempSync(join(tmpdir(), 'vqlm-bench-'));
try {
  const clips = [
    { name: '1080p, 10 s', width: 1920, height: 1080, seconds: 10 },
    { name: '2160p, 10 s', width: 3840, height: 2160, seconds: 10 },
  ];
  const rows: string[] = [];
  let rss = '';
  for (const clip of clips) {
    const file = join(dir, `${clip.height}p.mp4`);
    process.stderr.write(`making ${clip.name} clip...\n`);
    makeClip(file, clip.width, clip.height, clip.seconds);
    const info = await probe(file);
    const indices = keyFrameIndices(info.frameCount, M);
    const frameTimes = indices.map((i) => (i + 0.5) / info.fps - 0.5 / info.fps);
    process.stderr.write(
      `timing ${clip.name} (${info.frameCount} frames, median of ${REPEATS})...\n`,
    );
    const floorSelect = await time(() => bareSelect(file, indices));
    const floorSeek = await time(() => bareSeeks(file, frameTimes));
    const select = await time(() => pipeline(file, 'select'));
    const overlapped = await time(() => sampleViews(file, { m: M }));
    const seek = await time(() => pipeline(file, 'seek'));
    const floor = Math.min(floorSelect, floorSeek);
    const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    rows.push(
      `| ${clip.name} | select (1 pass) | ${fmt(floorSelect)} | ${fmt(select)} | ${(select / floorSelect).toFixed(2)}× | ${(select / floor).toFixed(2)}× |`,
      `| ${clip.name} | select, sampleViews (views overlap decoding) | ${fmt(floorSelect)} | ${fmt(overlapped)} | ${(overlapped / floorSelect).toFixed(2)}× | ${(overlapped / floor).toFixed(2)}× |`,
      `| ${clip.name} | seek (M runs) | ${fmt(floorSeek)} | ${fmt(seek)} | ${(seek / floorSeek).toFixed(2)}× | ${(seek / floor).toFixed(2)}× |`,
    );
    if (clip.height === 2160) {
      const base = peakRss(file, 'select', 'baseline');
      rss = `Peak RSS, 2160p, M = 8 (child process, Node + tsx + module alone: ${base.toFixed(0)} MiB): select ${peakRss(file, 'select').toFixed(0)} MiB, select via sampleViews ${peakRss(file, 'select', 'views').toFixed(0)} MiB, seek ${peakRss(file, 'seek').toFixed(0)} MiB; the 8 decoded frames alone are ${((M * 3840 * 2160 * 3) / 2 ** 20).toFixed(0)} MiB.`;
    }
  }
  process.stdout.write(
    [
      `ffmpeg: ${ffmpeg.split('/').slice(-3).join('/')}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); Node ${process.version}; median of ${REPEATS}`,
      '',
      '| clip | strategy | bare ffmpeg, same frames to null | sampleKeyFrames + contextView + pixelView | ratio to same-strategy floor | ratio to best floor |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      rss,
      '',
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
