#!/usr/bin/env node
// `pnpm train:default`: builds the vqlm-tiny corpus from ../shared/corpus/sources (resumable),
// trains vqlm-tiny with models/vqlm-tiny/train.json (seeded), scores the held-out test sources
// with the finished bundle through the public Scorer, copies the bundle into models/vqlm-tiny/
// and writes its eval.json and MODEL_CARD.md. Flags: --resume (continue an interrupted training),
// --skip-train (only re-evaluate and re-write the card from the last run).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDistortedVariant, readManifest } from '@vqlm/datasets';
import { levelFromScore } from '@vqlm/heads';
import { flipRateByDiff, plcc, srcc } from '@vqlm/metrics';
import { createScorer } from '@vqlm/models';
import { initBackend } from '@vqlm/runtime';
import { pixelView, resolveBinaries, sampleViews } from '@vqlm/video-io';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = resolve(root, '..', 'shared');
const modelDir = join(root, 'models', 'vqlm-tiny');
const cacheDir = join(root, '.cache', 'vqlm-tiny');
const sourcesDir = join(cacheDir, 'sources');
const corpusDir = join(cacheDir, 'corpus');
const runDir = join(cacheDir, 'run');
const args = new Set(process.argv.slice(2));
// Ensemble members trained at once (`vqlm-train --jobs`): one per core of the 2-core reference machine.
const TRAIN_JOBS = 2;
const minutes = (ms) => (ms / 60000).toFixed(1);

function run(label, command, commandArgs) {
  const t0 = Date.now();
  process.stderr.write(`\n== ${label}\n`);
  execFileSync(process.execPath, [join(root, command), ...commandArgs], { stdio: 'inherit', cwd: root });
  const ms = Date.now() - t0;
  process.stderr.write(`== ${label}: ${minutes(ms)} min\n`);
  return ms;
}

// Sources: the seven real clips of ../shared/corpus/sources, and nine slow pans across real
// photographs from scikit-image's data (Debian package python3-skimage; public domain / CC0),
// which add content the clips lack (faces, food, textures, deep sky).
const SKIMAGE_DATA = process.env.VQLM_SKIMAGE_DATA ?? '/usr/lib/python3/dist-packages/skimage/data';
// name: [image, crop width, crop height, x pixels/s, y pixels/s]
const STILLS = {
  astronaut: ['astronaut.png', 320, 240, 80, 60],
  coffee: ['coffee.png', 320, 240, 120, 70],
  chelsea: ['chelsea.png', 320, 240, 60, 25],
  motorcycle: ['motorcycle_left.png', 400, 300, 150, 90],
  hubble: ['hubble_deep_field.jpg', 480, 360, 200, 150],
  rocket: ['rocket.jpg', 400, 300, 110, 50],
  grass: ['grass.png', 320, 240, 90, 120],
  gravel: ['gravel.png', 320, 240, 0, 120],
  brick: ['brick.png', 320, 240, 90, 60],
};

// The held-out sources, named: the ones the seeded draw (split seed 0) gave these 16 sources, kept
// fixed when sources are added or removed (a seeded draw would reshuffle them).
const TEST_SOURCES = ['chaplin', 'still-chelsea'];
const VAL_SOURCES = ['still-astronaut', 'still-brick'];

async function makeSources() {
  await mkdir(sourcesDir, { recursive: true });
  for (const name of await readdir(join(shared, 'corpus', 'sources'))) {
    if (!name.endsWith('.mp4') || existsSync(join(sourcesDir, name))) continue;
    await symlink(join(shared, 'corpus', 'sources', name), join(sourcesDir, name));
  }
  if (!existsSync(SKIMAGE_DATA)) {
    throw new Error(`${SKIMAGE_DATA}: scikit-image's sample images are missing; install them with \`apt-get install python3-skimage\` (or set VQLM_SKIMAGE_DATA)`);
  }
  const { ffmpeg } = resolveBinaries();
  for (const [name, [image, w, h, vx, vy]] of Object.entries(STILLS)) {
    const out = join(sourcesDir, `still-${name}.mp4`);
    if (existsSync(out)) continue;
    const tmp = join(sourcesDir, `.tmp-still-${name}.mp4`);
    execFileSync(ffmpeg, ['-v', 'error', '-nostdin', '-y', '-loop', '1', '-framerate', '25', '-i', join(SKIMAGE_DATA, image), '-t', '2', '-vf', `crop=w=${w}:h=${h}:x='${vx}*t':y='${vy}*t',format=yuv420p`, '-c:v', 'libx264', '-preset', 'medium', '-crf', '8', '-pix_fmt', 'yuv420p', tmp]);
    await rename(tmp, out);
  }
}

const timings = {};
if (!args.has('--skip-train')) {
  const sourcesStart = Date.now();
  await makeSources();
  timings.sourcesMs = Date.now() - sourcesStart;
  timings.corpusMs = run('corpus', 'apps/cli/dist/bin.js', [
    'corpus', 'build',
    '--sources', sourcesDir,
    '--out', corpusDir,
    '--vmaf-model', join(shared, 'vmaf', 'vmaf_v0.6.1.pkl'),
    '--segment-seconds', '2',
    '--crf', '15:51:2',
    '--labels', join(modelDir, 'sources.json'),
    '--test-sources', TEST_SOURCES.join(','),
    '--val-sources', VAL_SOURCES.join(','),
  ]);
  // Two members at once: the trainer runs on one core each (tfjs wasm), and this machine has two.
  timings.trainMs = run('train', 'apps/trainer/dist/bin.js', ['--config', join(modelDir, 'train.json'), '--cache-dir', join(cacheDir, 'cache'), '--jobs', String(TRAIN_JOBS), args.has('--resume') ? '--resume' : '--fresh']);
  timings.trainJobs = TRAIN_JOBS;
}

// Times of the corpus and training phases are kept beside the run, so that --skip-train can report them.
const timingsFile = join(cacheDir, 'timings.json');
if (args.has('--skip-train')) {
  try {
    Object.assign(timings, JSON.parse(await readFile(timingsFile, 'utf8')));
  } catch {
    // no earlier timings: the card says "not measured"
  }
} else {
  await writeFile(timingsFile, `${JSON.stringify(timings, null, 2)}\n`);
}

// Held-out evaluation of the finished bundle, through the same Scorer the CLI and server use.
await initBackend({ backend: process.env.VQLM_BACKEND, log: (m) => process.stderr.write(`${m}\n`) });
const t0 = Date.now();
const manifest = await readManifest(join(corpusDir, 'manifest.jsonl'));
const test = manifest.filter((e) => e.split === 'test' && isDistortedVariant(e));
const scorer = await createScorer(join(runDir, 'bundle'));
const rows = [];
for (const [i, entry] of test.entries()) {
  const result = await scorer.score(join(corpusDir, entry.path), { describe: true });
  rows.push({ id: entry.id, source: entry.referenceId ?? entry.sourceId, crf: entry.variant.recipe.crf, vmaf: entry.fullReference?.vmaf ?? null, pseudoMos: entry.pseudoMos?.value ?? null, score: result.score, rawScore: result.rawScore, ...(result.members ? { members: result.members } : {}), level: result.level, description: result.description ?? '' });
  if ((i + 1) % 20 === 0 || i + 1 === test.length) process.stderr.write(`held-out: ${i + 1}/${test.length} scored\n`);
}
await scorer.dispose();
timings.evalMs = Date.now() - t0;

// A reference without learning, measured on the same held-out videos in the same run: the mean
// absolute difference between neighbouring pixels of the very pixel patches the model sees
// (compression removes fine detail, so within one clip it falls as the CRF rises).
const trainConfig = JSON.parse(await readFile(join(modelDir, 'train.json'), 'utf8'));
const { m, k, patchSize: p, pixelFit, pixelUpscale } = trainConfig.model;
const pixelOptions = { fit: pixelFit, patch: p, k, upscale: pixelUpscale };
const detail = ({ frames: px, shape: [frames, patches] }) => {
  let sum = 0;
  let n = 0;
  for (let patch = 0; patch < frames * patches; patch++) {
    for (let y = 0; y < p - 1; y++) {
      for (let x = 0; x < p - 1; x++) {
        const i = ((patch * p + y) * p + x) * 3;
        for (let c = 0; c < 3; c++) sum += Math.abs(px[i + c] - px[i + 3 + c]) + Math.abs(px[i + c] - px[i + p * 3 + c]);
        n += 6;
      }
    }
  }
  return sum / n;
};
// The same measure on 4 × K patches per key frame (cut from the same decoded key frames): how much
// of the cross-clip drift comes from the share of the frame the K patches cover (8 patches of 32²
// are under 1 % of a 720p frame).
const DENSE = 4 * k;
for (const [i, entry] of test.entries()) {
  const { pixel, frames } = await sampleViews(join(corpusDir, entry.path), { m, context: false, pixel: pixelOptions, keepFrames: true });
  rows[i].reference = detail(pixel);
  rows[i].referenceDense = detail(pixelView(frames, { ...pixelOptions, k: DENSE }));
}

const FLIP_DIFFS = [2, 4, 6, 8, 10, 20];
const orderScore = (r) => (r.members ? r.score : r.rawScore);
const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
// An ensemble run's summary lists its members; their own summaries hold steps and calibrations.
const memberSummaries = summary.ensemble ? await Promise.all(summary.members.map(async (m) => JSON.parse(await readFile(join(m.dir, 'summary.json'), 'utf8')))) : [summary];
// The scorer's level bands (@vqlm/heads levelFromScore): the word a description's lead gets from the score.
const levelOf = (mos) => levelFromScore(mos);
const withVmaf = rows.filter((r) => r.vmaf !== null);
// The tokenizer lower-cases and splits punctuation ("h. 264", "crf 43"): match loosely.
const crfIn = (text) => {
  const m = /crf\s*(\d+)/i.exec(text);
  return m ? Number(m[1]) : null;
};
const descriptions = {
  n: rows.length,
  namesH264: rows.filter((r) => /h\s*\.?\s*264/i.test(r.description)).length / rows.length,
  distinct: new Set(rows.map((r) => r.description)).size,
  crfWithin4: rows.filter((r) => crfIn(r.description) !== null && Math.abs(crfIn(r.description) - r.crf) <= 4).length / rows.length,
  rightLevelWord: rows.filter((r) => r.pseudoMos !== null && r.description.toLowerCase().includes(`its quality is ${levelOf(r.pseudoMos)}`)).length / rows.length,
  examples: rows.filter((_, i) => i % Math.max(1, Math.floor(rows.length / 3)) === 0).slice(0, 3).map((r) => ({ id: r.id, crf: r.crf, description: r.description })),
};
const evaluation = {
  heldOutSources: [...new Set(rows.map((r) => r.source.replace(/-s\d+$/, '')))],
  ladders: new Set(rows.map((r) => r.source)).size,
  videos: rows.length,
  srccVsVmaf: srcc(withVmaf.map((r) => r.score), withVmaf.map((r) => r.vmaf)),
  plccVsVmaf: plcc(withVmaf.map((r) => r.score), withVmaf.map((r) => r.vmaf), { fit: 'logistic4' }),
  srccVsPseudoMos: srcc(rows.map((r) => r.score), rows.map((r) => r.pseudoMos)),
  // Flips on the raw score of one model (a calibration's clamp could tie scores); an ensemble's
  // score is the mean of its members' calibrated scores (their raw scales differ).
  flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: orderScore(r) })), FLIP_DIFFS),
  // Each member of an ensemble alone, from the member scores of the same Scorer calls.
  ...(rows[0]?.members
    ? {
        members: rows[0].members.map((_, j) => ({
          seed: summary.members?.[j]?.seed ?? null,
          group: summary.members?.[j]?.group ?? null,
          srccVsVmaf: srcc(withVmaf.map((r) => r.members[j]), withVmaf.map((r) => r.vmaf)),
          flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: r.members[j] })), FLIP_DIFFS),
        })),
      }
    : {}),
  // Each group of an ensemble alone: the mean of its members' calibrated scores.
  ...(rows[0]?.members && summary.members?.some((x) => x.group)
    ? {
        groups: [...new Set(summary.members.map((x) => x.group ?? null))].map((group) => {
          const js = summary.members.flatMap((x, j) => ((x.group ?? null) === group ? [j] : []));
          const mean = (r) => js.reduce((a, j) => a + r.members[j], 0) / js.length;
          return {
            group,
            members: js.length,
            srccVsVmaf: srcc(withVmaf.map(mean), withVmaf.map((r) => r.vmaf)),
            flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: mean(r) })), FLIP_DIFFS),
          };
        }),
      }
    : {}),
  reference: {
    name: 'mean absolute neighbouring-pixel difference of the same pixel patches (no learning)',
    srccVsVmaf: srcc(withVmaf.map((r) => r.reference), withVmaf.map((r) => r.vmaf)),
    flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: r.reference })), FLIP_DIFFS),
    dense: {
      patchesPerFrame: DENSE,
      srccVsVmaf: srcc(withVmaf.map((r) => r.referenceDense), withVmaf.map((r) => r.vmaf)),
      flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: r.referenceDense })), FLIP_DIFFS),
    },
  },
  descriptions,
  timings,
  // Sum of the phases (with --skip-train, those of the run that trained), after `pnpm build`.
  totalMinutes: Number(minutes(['sourcesMs', 'corpusMs', 'trainMs', 'describerMs', 'evalMs'].reduce((n, k) => n + (timings[k] ?? 0), 0))),
};

// Ship the bundle: model.json, weights, adapters, tokenizer, ONNX towers (an ensemble: model.json and members/).
const bundleFiles = await readdir(join(runDir, 'bundle'));
for (const name of await readdir(modelDir)) if (!['train.json', 'sources.json', 'MODEL_CARD.md', 'eval.json', 'curves.svg'].includes(name)) await rm(join(modelDir, name), { recursive: true, force: true });
await mkdir(modelDir, { recursive: true });
for (const name of bundleFiles) await cp(join(runDir, 'bundle', name), join(modelDir, name), { recursive: true });
await cp(join(runDir, 'curves.svg'), join(modelDir, 'curves.svg'));
await writeFile(join(modelDir, 'eval.json'), `${JSON.stringify({ ...evaluation, rows }, null, 2)}\n`);
const { writeModelCard } = await import('./model-card.mjs');
await writeModelCard({ modelDir, evaluation: { ...evaluation, rows }, summary, memberSummaries, manifest, trainConfig });
process.stderr.write(`\nvqlm-tiny: SRCC vs VMAF ${evaluation.srccVsVmaf.toFixed(3)}; flip rate at CRF diff 4 ${evaluation.flipByCrfDiff.find((b) => b.diff === 4)?.rate}, diff 10 ${evaluation.flipByCrfDiff.find((b) => b.diff === 10)?.rate}; ${evaluation.totalMinutes} min in all\n`);
