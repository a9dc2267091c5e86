// The built `vqlm-train` binary (dist/bin.js; `pnpm test` builds it first): signals, resume, errors.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTinyCorpus, microConfig, removeTempDir } from './__fixtures__/corpus.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');
let dir: string;
let configFile: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBin(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, VQLM_BACKEND: process.env.VQLM_TEST_BACKEND ?? 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr, child);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm --filter @vqlm/trainer build\` first`);
  dir = await makeTempDir('bin');
  const manifest = await makeTinyCorpus(dir);
  configFile = join(dir, 'train.json');
  await writeFile(configFile, JSON.stringify(microConfig('manifest.jsonl', 'run', { train: { epochs: 4, checkpointEvery: 100 } }), null, 2));
  expect(existsSync(manifest)).toBe(true);
}, 120_000);
afterAll(async () => removeTempDir(dir));

describe('vqlm-train', () => {
  it('on SIGINT finishes the step, writes a checkpoint and exits 130; --resume completes the run', async () => {
    let sent = false;
    const first = await runBin(['--config', configFile], (text, child) => {
      if (!sent && /step 1\/8/.test(text)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/SIGINT: finishing the current step and writing a checkpoint/);
    expect(first.stderr).toMatch(/stopped at step \d+; checkpoint in .*continue with --resume/);
    const latest = JSON.parse(await readFile(join(dir, 'run', 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
    expect(latest.step).toBeGreaterThanOrEqual(1);
    expect(latest.step).toBeLessThan(8);

    const again = await runBin(['--config', configFile]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n').at(-1)).toMatch(/^vqlm-train: .*pass --resume to continue it or --fresh to start over \[E_CHECKPOINT\]$/);

    const resumed = await runBin(['--config', configFile, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming at step ${latest.step}/8`));
    const result = JSON.parse(resumed.stdout) as { interrupted: boolean; step: number; steps: number; bundleDir: string };
    expect(result).toMatchObject({ interrupted: false, step: 8, steps: 8 });
    expect(existsSync(join(result.bundleDir, 'model.json'))).toBe(true);
  }, 240_000);

  it('stops within the epoch on SIGTERM, not at the next write to disk', async () => {
    // 24 steps of one item (6 training videos), evaluated and logged only at the end of each
    // 6-step epoch, no checkpoint before step 100: a loop that never yields to the event loop
    // would see the signal only at the epoch's end (step 6).
    const prompt = join(dir, 'prompt.json');
    await writeFile(prompt, JSON.stringify(microConfig('manifest.jsonl', 'run-prompt', { train: { epochs: 4, batchSize: 1, checkpointEvery: 100 } }), null, 2));
    let sent = false;
    const run = await runBin(['--config', prompt], (text, child) => {
      if (!sent && /step \d+\/24/.test(text)) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    expect(sent).toBe(true);
    expect(run.code, run.stderr).toBe(143);
    const latest = JSON.parse(await readFile(join(dir, 'run-prompt', 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
    expect(latest.step).toBeGreaterThanOrEqual(1);
    expect(latest.step).toBeLessThan(6);
  }, 240_000);

  it('reports a bad config in one line naming the field, exit 1', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ data: { manifest: 'manifest.jsonl' }, train: { lr: 'fast' } }));
    const run = await runBin(['--config', bad]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/bad.json.train.lr: Expected number, received string \[E_CONFIG\]/);
  });

  it('has --help for train and ablate', async () => {
    const help = await runBin(['train', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--config', '--resume', '--fresh', '--json', '--stop-after']) expect(help.stdout).toContain(flag);
    const ablate = await runBin(['ablate', '--help']);
    expect(ablate.stdout).toMatch(/--plan <file>[\s\S]*--seeds <list>/);
  });
});
