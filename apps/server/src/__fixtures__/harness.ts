/**
 * Test harness: a micro model bundle built on the fly, tiny ffmpeg clips (video, audio only,
 * truncated, zero bytes), a server on loopback with real HTTP, and checks for leftovers (spool
 * files, child processes). Callers remove what they create.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpLlm, cpLlmPreset, presetTokenizer, saveBundle, type Scorer } from '@vqlm/models';
import { initBackend, type BackendName } from '@vqlm/runtime';
import { resolveBinaries } from '@vqlm/video-io';
import type { ServerConfig } from '../config.js';
import { InProcessQueue, type InProcessQueueOptions } from '../jobs/in-process-queue.js';
import { createScorerProcessor } from '../jobs/processor.js';
import { loadScorer } from '../model.js';
import { buildServer, type VqlmServer } from '../server.js';

export const testBackend = (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName;

export async function useTestBackend(): Promise<void> {
  await initBackend({ backend: testBackend, log: () => undefined });
}

export function makeTempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `vqlm-server-${name}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Writes the `micro` preset's random-weight bundle to `<dir>/bundle`. */
export async function makeMicroBundle(dir: string, name = 'bundle', seed?: number): Promise<string> {
  await useTestBackend();
  const model = await CpLlm.create(cpLlmPreset('micro', seed === undefined ? {} : { seed }), { tokenizer: presetTokenizer('micro') });
  const bundle = join(dir, name);
  try {
    await saveBundle(model, bundle);
  } finally {
    await model.dispose();
  }
  return bundle;
}

function ffmpeg(args: string[]): void {
  execFileSync(resolveBinaries().ffmpeg, ['-v', 'error', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}

/** A tiny x264 mp4 of `testsrc2` (index at the end, as ffmpeg writes by default, or at the start with `faststart`). */
export function makeClip(path: string, options: { width?: number; height?: number; frames?: number; pattern?: string; faststart?: boolean } = {}): string {
  const { width = 64, height = 48, frames = 10, pattern = 'testsrc2' } = options;
  const flags = options.faststart ? ['-movflags', '+faststart'] : [];
  ffmpeg(['-f', 'lavfi', '-i', `${pattern}=size=${width}x${height}:rate=10`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...flags, `file:${path}`]);
  return path;
}

/** One second of a sine tone in an m4a (AAC) container: media without a video stream. */
export function makeAudioOnly(path: string): string {
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac', `file:${path}`]);
  return path;
}

/** PIDs of this process's live child processes (Linux). */
export function childPids(): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // not Linux
  }
  return pids;
}

/** Entries left in a directory (empty when it is gone). */
export async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Path under the `shared/` folder beside the repository checkout. */
export function sharedPath(...parts: string[]): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'shared', ...parts);
}

export const serverPackageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Harness {
  readonly server: VqlmServer;
  readonly queue: InProcessQueue;
  readonly url: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 with an in-process queue scoring with `scorer`. */
export async function startServer(
  scorer: Scorer,
  config: Partial<ServerConfig>,
  queueOptions: Partial<InProcessQueueOptions> = {},
): Promise<Harness> {
  const queue = new InProcessQueue({ processor: createScorerProcessor(scorer), concurrency: 1, maxQueued: 8, ...queueOptions });
  const server = await buildServer({ queue, config, defaultMetrics: false });
  const url = await server.listen();
  return { server, queue, url, close: () => server.shutdown({ drainTimeoutMs: 10_000 }) };
}

export { loadScorer };

/** Polls `GET /v1/jobs/:id` until the job is finished. */
export async function pollJob(url: string, id: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/v1/jobs/${id}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (body.state === 'completed' || body.state === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(body.state)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A multipart form with the given files (read from disk) and fields. */
export async function form(files: Record<string, string>, fields: Record<string, string> = {}): Promise<FormData> {
  const { readFile } = await import('node:fs/promises');
  const data = new FormData();
  for (const [name, path] of Object.entries(files)) data.append(name, new Blob([await readFile(path)]), path.split('/').pop());
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}
