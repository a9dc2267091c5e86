// Load benchmark of the scoring service: N concurrent clients upload a short clip to
// POST /v1/score?wait=120 for a fixed time (autocannon, loopback). Not a test; prints a markdown table.
//   pnpm --filter @vqlm/server bench [-- --duration 60] [--connections 4] [--concurrency 1] [--model <dir>] [--clip <file>]
// The server is the built `dist/bin.js` in its own process (so its RSS is its own), default
// in-process queue. Model: --model, else findDefaultModel() (VQLM_MODEL, models/vqlm-tiny), else a
// random `micro` bundle built on the fly in a temp dir. Clip: --clip, else the first 2 s of
// ../shared/corpus/sources/realshort.mp4, else a 2 s 320x240 testsrc2 clip. 429s (queue full) are
// counted apart from errors.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { CpLlm, cpLlmPreset, findDefaultModel, presetTokenizer, saveBundle } from '@vqlm/models';
import { initBackend } from '@vqlm/runtime';
import { resolveBinaries } from '@vqlm/video-io';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  // `pnpm bench -- --flag` passes the `--` through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    duration: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    connections: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '1' },
    model: { type: 'string' },
    clip: { type: 'string' },
  },
});
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

const work = await mkdtemp(join(tmpdir(), 'vqlm-server-bench-'));
try {
  let model = values.model ?? findDefaultModel();
  let modelNote = values.model ? `--model ${values.model}` : `findDefaultModel(): ${model ?? ''}`;
  if (!model) {
    await initBackend({ backend: 'wasm', log: () => undefined });
    const micro = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
    model = join(work, 'micro-bundle');
    await saveBundle(micro, model);
    await micro.dispose();
    modelNote = 'random `micro` bundle built on the fly (no models/vqlm-tiny found)';
  }
  const ffmpeg = resolveBinaries().ffmpeg;
  const corpusClip = resolve(here, '../../../../shared/corpus/sources/realshort.mp4');
  let clip = values.clip;
  let clipNote = clip ?? '';
  if (!clip) {
    clip = join(work, 'clip.mp4');
    const input = existsSync(corpusClip) ? ['-i', `file:${corpusClip}`, '-t', '2'] : ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2'];
    execFileSync(ffmpeg, ['-v', 'error', '-nostdin', '-y', ...input, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', `file:${clip}`]);
    clipNote = existsSync(corpusClip) ? 'first 2 s of corpus realshort.mp4 (x264)' : '2 s 320x240 testsrc2 (x264)';
  }
  const bin = resolve(here, '../dist/bin.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm --filter @vqlm/server build\` first`);
  const server = spawn(
    process.execPath,
    [bin, '--model', model, '--port', '0', '--spool-dir', join(work, 'spool'), '--concurrency', values.concurrency, '--max-queue', String(4 * connections), '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, REDIS_URL: '' } },
  );
  const lines = createInterface({ input: server.stdout });
  let backend = 'unknown';
  const url = await new Promise<string>((done, fail) => {
    let base = '';
    server.on('exit', (code) => fail(new Error(`vqlm-server exited with ${code}`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.url) base = entry.url;
      if (entry.msg?.includes('backend')) backend = entry.msg;
      if (entry.msg === 'model loaded; ready') done(base);
    });
  });
  const pid = server.pid as number;
  const rssStart = rssMiB(pid);
  const load = (seconds: number) =>
    autocannon({
      url: `${url}/v1/score?wait=120`,
      method: 'POST',
      connections,
      duration: seconds,
      timeout: 120,
      form: { video: { type: 'file', path: clip } },
    });
  if (warmup > 0) await load(warmup);
  const rssWarm = rssMiB(pid);
  const result = await load(duration);
  const rssEnd = rssMiB(pid);
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((done) => server.on('exit', done));

  const stats = result.statusCodeStats as unknown as Record<string, { count: number }>;
  const byStatus = Object.entries(stats)
    .map(([status, { count }]) => `${status}: ${count}`)
    .join(', ');
  const total = Object.values(stats).reduce((sum, { count }) => sum + count, 0) + result.errors;
  const ok = stats['200']?.count ?? 0;
  const refused = stats['429']?.count ?? 0;
  const failures = total - ok - refused;
  const rows: [string, string][] = [
    ['model', modelNote],
    ['tfjs backend', backend],
    ['clip', `${clipNote} (${(readFileSync(clip).length / 1024).toFixed(0)} KiB)`],
    ['clients × duration', `${connections} × ${duration} s (after ${warmup} s warm-up), server concurrency ${values.concurrency}`],
    ['machine', `${cpus().length} cores, load average ${loadavg()[0].toFixed(2)} at the end`],
    ['scored videos / s', (ok / duration).toFixed(2)],
    ['latency p50 / p99 (ms)', `${result.latency.p50} / ${result.latency.p99}`],
    ['responses', `${byStatus || 'none'}; socket errors/timeouts ${result.errors}/${result.timeouts}`],
    ['error rate (not 200, not 429)', total > 0 ? `${((100 * failures) / total).toFixed(2)} %` : 'n/a'],
    ['server RSS start / after warm-up / end (MiB)', `${rssStart.toFixed(0)} / ${rssWarm.toFixed(0)} / ${rssEnd.toFixed(0)}`],
    ['server exit after SIGTERM', String(code)],
  ];
  console.log('| measure | value |\n| --- | --- |');
  for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
} finally {
  await rm(work, { recursive: true, force: true });
}
