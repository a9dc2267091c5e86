#!/usr/bin/env node
// `pnpm train:default`: builds the vqlm-tiny corpus from ../shared/corpus/sources (resumable),
// trains vqlm-tiny with models/vqlm-tiny/train.json (seeded), scores the held-out test sources
// with the finished bundle through the public Scorer, copies the bundle into models/vqlm-tiny/
// and writes its eval.json and MODEL_CARD.md. Flags: --resume (continue an interrupted training),
// --skip-train (only re-evaluate and re-write the card from the last run).
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest } from '@vqlm/datasets';
import { flipRateByDiff, plcc, srcc } from '@vqlm/metrics';
import { createScorer } from '@vqlm/models';
import { initBackend } from '@vqlm/runtime';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = resolve(root, '..', 'shared');
const modelDir = join(root, 'models', 'vqlm-tiny');
const cacheDir = join(root, '.cache', 'vqlm-tiny');
const corpusDir = join(cacheDir, 'corpus');
const runDir = join(cacheDir, 'run');
const args = new Set(process.argv.slice(2));
const started = Date.now();
const minutes = (ms) => (ms / 60000).toFixed(1);

function run(label, command, commandArgs) {
  const t0 = Date.now();
  process.stderr.write(`\n== ${label}\n`);
  execFileSync(process.execPath, [join(root, command), ...commandArgs], { stdio: 'inherit', cwd: root });
  const ms = Date.now() - t0;
  process.stderr.write(`== ${label}: ${minutes(ms)} min\n`);
  return ms;
}

const timings = {};
if (!args.has('--skip-train')) {
  timings.corpusMs = run('corpus', 'apps/cli/dist/bin.js', [
    'corpus', 'build',
    '--sources', join(shared, 'corpus', 'sources'),
    '--out', corpusDir,
    '--vmaf-model', join(shared, 'vmaf', 'vmaf_v0.6.1.pkl'),
    '--segment-seconds', '2',
    '--crf', '15:51:2',
    '--labels', join(modelDir, 'sources.json'),
    '--split-seed', '0',
  ]);
  timings.trainMs = run('train', 'apps/trainer/dist/bin.js', ['--config', join(modelDir, 'train.json'), args.has('--resume') ? '--resume' : '--fresh']);
}

// Held-out evaluation of the finished bundle, through the same Scorer the CLI and server use.
await initBackend({ backend: process.env.VQLM_BACKEND, log: (m) => process.stderr.write(`${m}\n`) });
const t0 = Date.now();
const manifest = await readManifest(join(corpusDir, 'manifest.jsonl'));
const test = manifest.filter((e) => e.split === 'test' && e.variant && e.variant.level > 0);
const scorer = await createScorer(join(runDir, 'bundle'));
const rows = [];
for (const [i, entry] of test.entries()) {
  const result = await scorer.score(join(corpusDir, entry.path), { describe: true });
  rows.push({ id: entry.id, source: entry.referenceId ?? entry.sourceId, crf: entry.variant.recipe.crf, vmaf: entry.fullReference?.vmaf ?? null, pseudoMos: entry.pseudoMos?.value ?? null, score: result.score, rawScore: result.rawScore, level: result.level, description: result.description ?? '' });
  if ((i + 1) % 20 === 0 || i + 1 === test.length) process.stderr.write(`held-out: ${i + 1}/${test.length} scored\n`);
}
await scorer.dispose();
timings.evalMs = Date.now() - t0;

const levelOf = (mos) => (mos < 1.5 ? 'bad' : mos < 2.5 ? 'poor' : mos < 3.5 ? 'fair' : mos < 4.5 ? 'good' : 'excellent');
const withVmaf = rows.filter((r) => r.vmaf !== null);
const crfIn = (text) => {
  const m = /CRF (\d+)/.exec(text);
  return m ? Number(m[1]) : null;
};
const descriptions = {
  n: rows.length,
  namesH264: rows.filter((r) => /H\.264/.test(r.description)).length / rows.length,
  crfWithin4: rows.filter((r) => crfIn(r.description) !== null && Math.abs(crfIn(r.description) - r.crf) <= 4).length / rows.length,
  rightLevelWord: rows.filter((r) => r.pseudoMos !== null && r.description.includes(`its quality is ${levelOf(r.pseudoMos)}`)).length / rows.length,
  examples: rows.filter((_, i) => i % Math.max(1, Math.floor(rows.length / 3)) === 0).slice(0, 3).map((r) => ({ id: r.id, crf: r.crf, description: r.description })),
};
const evaluation = {
  heldOutSources: [...new Set(rows.map((r) => r.source.replace(/-s\d+$/, '')))],
  ladders: new Set(rows.map((r) => r.source)).size,
  videos: rows.length,
  srccVsVmaf: srcc(withVmaf.map((r) => r.score), withVmaf.map((r) => r.vmaf)),
  plccVsVmaf: plcc(withVmaf.map((r) => r.score), withVmaf.map((r) => r.vmaf), { fit: 'logistic4' }),
  srccVsPseudoMos: srcc(rows.map((r) => r.score), rows.map((r) => r.pseudoMos)),
  flipByCrfDiff: flipRateByDiff(rows.map((r) => ({ sourceId: r.source, level: r.crf, score: r.rawScore })), [2, 4, 6, 8, 10, 20]),
  descriptions,
  timings,
  totalMinutes: Number(minutes(Date.now() - started)),
};

// Ship the bundle: model.json, weights, adapters, tokenizer, ONNX towers.
const bundleFiles = await readdir(join(runDir, 'bundle'));
for (const name of await readdir(modelDir)) if (!['train.json', 'sources.json', 'MODEL_CARD.md', 'eval.json'].includes(name)) await rm(join(modelDir, name), { recursive: true, force: true });
await mkdir(modelDir, { recursive: true });
for (const name of bundleFiles) await cp(join(runDir, 'bundle', name), join(modelDir, name), { recursive: true });
const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
await writeFile(join(modelDir, 'eval.json'), `${JSON.stringify({ ...evaluation, rows }, null, 2)}\n`);
const { writeModelCard } = await import('./model-card.mjs');
await writeModelCard({ modelDir, evaluation, summary, manifest, trainConfig: JSON.parse(await readFile(join(modelDir, 'train.json'), 'utf8')) });
process.stderr.write(`\nvqlm-tiny: SRCC vs VMAF ${evaluation.srccVsVmaf.toFixed(3)}; flip rate at CRF diff 4 ${evaluation.flipByCrfDiff.find((b) => b.diff === 4)?.rate}, diff 10 ${evaluation.flipByCrfDiff.find((b) => b.diff === 10)?.rate}; ${evaluation.totalMinutes} min in all\n`);
