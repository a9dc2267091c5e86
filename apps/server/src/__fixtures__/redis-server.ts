/**
 * A real redis-server for the scale-out tests: its own process on a free loopback port, its data
 * (if any) in a temp dir that `destroy()` removes. Without persistence it runs with `--save ''
 * --appendonly no`; with `persistent: true` it writes an append-only file (fsync always) so that
 * `stop()` + `start()` on the same port keeps the queue.
 *
 * The binary is `$VQLM_REDIS_SERVER`, else `redis-server` on the PATH, else /usr/bin/redis-server.
 * When none exists the tests fail with a message saying how to install it; they are skipped only
 * when `VQLM_SKIP_REDIS=1` is set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

/** True when the Redis tests are explicitly switched off (`VQLM_SKIP_REDIS=1`). */
export const SKIP_REDIS = process.env.VQLM_SKIP_REDIS === '1';

/** Path of redis-server, or an Error that says how to get it. */
export function findRedisServer(): string {
  const candidates = [
    process.env.VQLM_REDIS_SERVER,
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server')),
    '/usr/bin/redis-server',
  ].filter((p): p is string => typeof p === 'string' && p !== '');
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    'redis-server not found (looked at $VQLM_REDIS_SERVER, the PATH and /usr/bin/redis-server): install it (Debian/Ubuntu: apt-get install -y redis-server) or set VQLM_SKIP_REDIS=1 to skip the Redis tests',
  );
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisInstance {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Starts the server (again) on the same port and data dir. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); with persistence the data stays. */
  stop(): Promise<void>;
  /** Stops the server and removes its data dir. */
  destroy(): Promise<void>;
}

export async function startRedis(options: { persistent?: boolean } = {}): Promise<RedisInstance> {
  const binary = findRedisServer();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'vqlm-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    ...(options.persistent ? ['--appendfsync', 'always'] : []),
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const url = `redis://127.0.0.1:${port}`;

  async function start(): Promise<void> {
    const proc = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr.trim()}`);
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        // with an append-only file, the server answers LOADING until the data is back
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}: ${stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    port,
    url,
    dir,
    start,
    stop,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
