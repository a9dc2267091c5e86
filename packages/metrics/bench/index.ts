// Benchmark of @vqlm/metrics against SciPy on the same data, in the same run.
// Run: pnpm --filter @vqlm/metrics bench   (VQLM_PYTHON picks the Python
// interpreter; default /usr/bin/python3, then python3; SciPy is optional).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tiedDataset } from '../src/__fixtures__/data.js';
import { krcc, plcc, srcc } from '../src/index.js';

const N = Number(process.env.VQLM_BENCH_N ?? 1_000_000);
// Each round times every metric REPEATS times in TypeScript, then in SciPy;
// the table keeps the best time of all rounds for each side, so a busy
// moment on a shared machine does not favour one side.
const ROUNDS = 3;
const REPEATS = 3;

interface Row {
  name: string;
  vqlmMs: number;
  value: number;
  scipyMs?: number;
  scipyValue?: number;
}

function best(fn: () => number): { ms: number; value: number } {
  let value = fn(); // warm-up
  let ms = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - start);
  }
  return { ms, value };
}

const PYTHON_SCRIPT = `
import json, sys, time
import numpy as np
from scipy import stats, optimize
n = int(sys.argv[3])
pred = np.fromfile(sys.argv[1], dtype='<f8', count=n)
mos = np.fromfile(sys.argv[2], dtype='<f8', count=n)
def logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2
def plcc_logistic4():
    p0 = [mos.max(), mos.min(), pred.mean(), pred.std()]
    beta, _ = optimize.curve_fit(logistic4, pred, mos, p0=p0, method='lm', maxfev=100000)
    return stats.pearsonr(logistic4(pred, *beta), mos)[0]
def best(fn, repeats):
    value = fn()
    ms = float('inf')
    for _ in range(repeats):
        t = time.perf_counter(); value = fn(); ms = min(ms, (time.perf_counter() - t) * 1000)
    return {'ms': ms, 'value': float(value)}
out = {
  'srcc': best(lambda: stats.spearmanr(pred, mos)[0], ${REPEATS}),
  'plcc': best(lambda: stats.pearsonr(pred, mos)[0], ${REPEATS}),
  'krcc': best(lambda: stats.kendalltau(pred, mos)[0], ${REPEATS}),
  'plcc logistic4': best(plcc_logistic4, 1),
  'version': __import__('scipy').__version__,
}
print(json.dumps(out))
`;

type ScipyTimes = Record<string, { ms: number; value: number } | undefined> & { version?: string };

const { pred, mos } = tiedDataset(N, 2026);
const dir = mkdtempSync(join(tmpdir(), 'vqlm-metrics-bench-'));
const predFile = join(dir, 'pred.f64');
const mosFile = join(dir, 'mos.f64');
const scriptFile = join(dir, 'bench.py');
writeFileSync(predFile, new Uint8Array(pred.buffer, pred.byteOffset, pred.byteLength));
writeFileSync(mosFile, new Uint8Array(mos.buffer, mos.byteOffset, mos.byteLength));
writeFileSync(scriptFile, PYTHON_SCRIPT);
let python: string | undefined;

function runScipy(): ScipyTimes | undefined {
  const candidates = python
    ? [python]
    : process.env.VQLM_PYTHON
      ? [process.env.VQLM_PYTHON]
      : ['/usr/bin/python3', 'python3'];
  for (const candidate of candidates) {
    const result = spawnSync(candidate, [scriptFile, predFile, mosFile, String(N)], {
      encoding: 'utf8',
    });
    if (result.status === 0) {
      python = candidate;
      return JSON.parse(result.stdout) as ScipyTimes;
    }
  }
  return undefined;
}

const metrics: [string, () => number][] = [
  ['srcc', () => srcc(pred, mos)],
  ['plcc', () => plcc(pred, mos)],
  ['krcc', () => krcc(pred, mos)],
  ['plcc logistic4', () => plcc(pred, mos, { fit: 'logistic4' })],
];
const rows: Row[] = metrics.map(([name]) => ({
  name,
  vqlmMs: Number.POSITIVE_INFINITY,
  value: Number.NaN,
}));
let scipyVersion: string | undefined;
try {
  for (let round = 0; round < ROUNDS; round++) {
    metrics.forEach(([, fn], k) => {
      const { ms, value } = best(fn);
      rows[k].vqlmMs = Math.min(rows[k].vqlmMs, ms);
      rows[k].value = value;
    });
    const scipy = runScipy();
    if (!scipy) continue;
    scipyVersion = scipy.version;
    for (const row of rows) {
      const ref = scipy[row.name];
      if (!ref) continue;
      row.scipyMs = Math.min(row.scipyMs ?? Number.POSITIVE_INFINITY, ref.ms);
      row.scipyValue = ref.value;
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (ms: number | undefined) => (ms === undefined ? 'n/a' : ms.toFixed(1));
console.log(
  `n = ${N} (pred in steps of 0.001, mos in steps of 0.02: many ties), best of ${ROUNDS} × ${REPEATS} runs; node ${process.version}` +
    (scipyVersion ? `, scipy ${scipyVersion}` : ', scipy not found'),
);
console.log('');
console.log('| metric | vqlm (ms) | scipy (ms) | vqlm / scipy | abs. difference |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) {
  const ratio = row.scipyMs === undefined ? 'n/a' : `${(row.vqlmMs / row.scipyMs).toFixed(2)}×`;
  const diff =
    row.scipyValue === undefined ? 'n/a' : Math.abs(row.value - row.scipyValue).toExponential(1);
  console.log(`| ${row.name} | ${fmt(row.vqlmMs)} | ${fmt(row.scipyMs)} | ${ratio} | ${diff} |`);
}
