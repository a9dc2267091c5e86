import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { entries, form, makeClip, makeMicroBundle, makeTempDir, removeDir, serverPackageDir, testBackend } from './__fixtures__/harness.js';
import { main, type ServerCliOptions } from './main.js';

let root: string;
beforeAll(async () => {
  root = await makeTempDir('bin');
});
afterAll(async () => {
  await removeDir(root);
});

async function parse(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; options?: ServerCliOptions; stderr: string }> {
  let options: ServerCliOptions | undefined;
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  try {
    const code = await main(['node', 'vqlm-server', ...argv], (parsed) => {
      options = parsed;
      return Promise.resolve(0);
    });
    return { code, options, stderr };
  } finally {
    spy.mockRestore();
    vi.unstubAllEnvs();
  }
}

describe('vqlm-server flags', () => {
  it('reads flags, falls back to environment variables, then defaults', async () => {
    const fromEnv = await parse([], { PORT: '9001', VQLM_MAX_UPLOAD_MB: '2.5', VQLM_MEDIA_ROOT: '/srv/media', VQLM_CONCURRENCY: '3', VQLM_MAX_QUEUE: '0' });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.options).toMatchObject({ port: 9001, maxUploadMb: 2.5, mediaRoot: '/srv/media', concurrency: 3, maxQueue: 0, host: '127.0.0.1' });
    const fromFlags = await parse(['--port', '9002', '--concurrency', '2', '--headers-timeout-ms', '500'], { PORT: '9001' });
    expect(fromFlags.options).toMatchObject({ port: 9002, concurrency: 2, headersTimeoutMs: 500 });
  });

  it('--engine / VQLM_ENGINE picks the scoring engine (default auto); other values are refused', async () => {
    expect((await parse([])).options?.engine).toBe('auto');
    expect((await parse([], { VQLM_ENGINE: 'tfjs' })).options?.engine).toBe('tfjs');
    expect((await parse(['--engine', 'onnx'], { VQLM_ENGINE: 'tfjs' })).options?.engine).toBe('onnx');
    const bad = await parse(['--engine', 'gpu']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--engine <engine>' argument 'gpu' is invalid\. Allowed choices are auto, tfjs, onnx/);
  });

  it('refuses bad numbers, naming the flag', async () => {
    const bad = await parse(['--concurrency', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.options).toBeUndefined();
    expect(bad.stderr).toMatch(/--concurrency.*expected an integer ≥ 1, got "0"/);
  });
});

interface Running {
  readonly lines: string[];
  readonly exit: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs `src/bin.ts` through tsx (the same code the built `dist/bin.js` bundles). */
function runBin(args: string[], env: Record<string, string> = {}): Running {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(serverPackageDir, 'src', 'bin.ts'), ...args], {
    cwd: root,
    env: { ...process.env, VQLM_MODEL: '', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  }
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    lines,
    exit,
    waitFor(pattern, timeoutMs = 30_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${String(pattern)} in:\n${lines.join('\n')}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    kill: (signal) => child.kill(signal),
  };
}

describe('vqlm-server process', () => {
  it('exits 1 with a clear message when VQLM_MODEL is not a bundle', async () => {
    const run = runBin(['--port', '0'], { VQLM_MODEL: root });
    expect(await run.exit).toBe(1);
    expect(run.lines.join('\n')).toMatch(/VQLM_MODEL: .* is not a model bundle \(no model.json\)/);
  });

  it('on SIGTERM finishes the running job, removes its upload and exits 0', async () => {
    const bundle = await makeMicroBundle(root);
    const spool = join(root, 'spool');
    await mkdir(spool);
    // big enough that the job is still running when the signal arrives
    const clip = makeClip(join(root, 'clip.mp4'), { width: 1280, height: 720, frames: 60 });
    const run = runBin(['--model', bundle, '--backend', testBackend, '--port', '0', '--spool-dir', spool]);
    try {
      const listening = JSON.parse(await run.waitFor(/"listening/)) as { url: string };
      await run.waitFor(/model loaded; ready/);
      expect((await fetch(`${listening.url}/readyz`)).status).toBe(200);
      const response = await fetch(`${listening.url}/v1/compare`, { method: 'POST', body: await form({ a: clip, b: clip }) });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      run.kill('SIGTERM');
      expect(await run.exit).toBe(0);
      const logged = run.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const finished = logged.findIndex((entry) => entry.job === id);
      expect(logged[finished]).toMatchObject({ msg: 'job finished', state: 'completed' });
      expect(logged.findIndex((entry) => entry.msg === 'shutting down: draining jobs')).toBeLessThan(finished);
      expect(run.lines.some((line) => line.includes('"stopped"'))).toBe(true);
      expect(await entries(spool)).toEqual([]);
    } finally {
      run.kill('SIGKILL');
    }
  });
});
