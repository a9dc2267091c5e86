/** Server settings: defaults here, overridden by flags or environment variables (see bin.ts). */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerConfig {
  /** Largest accepted upload, per file (bytes). */
  readonly maxUploadBytes: number;
  /** JSON `path` inputs are resolved under this directory; undefined disables them. */
  readonly mediaRoot?: string;
  /** Where uploads are written while they wait for their job. */
  readonly spoolDir: string;
  /** Time allowed to receive the request headers (ms). */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive the whole request, headers and body (ms); 408 and the connection is closed after it. */
  readonly requestTimeoutMs: number;
  /** Idle time before a keep-alive connection is closed (ms). */
  readonly keepAliveTimeoutMs: number;
  /** Upper bound of `?wait=` (seconds); larger values are clamped. */
  readonly maxWaitSeconds: number;
  /** Time limit of the ffprobe check of each input (ms). */
  readonly probeTimeoutMs: number;
  /** Time running jobs get to finish at shutdown (ms). */
  readonly drainTimeoutMs: number;
}

export const DEFAULT_CONFIG: ServerConfig = {
  maxUploadBytes: 256 * 1024 * 1024,
  spoolDir: join(tmpdir(), 'vqlm-server-spool'),
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxWaitSeconds: 120,
  probeTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
};

export function resolveConfig(partial: Partial<ServerConfig> = {}): ServerConfig {
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...stripUndefined(partial) };
  const positive = (name: keyof ServerConfig): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`${name}: expected a positive number, got ${String(value)}`);
  };
  for (const name of ['maxUploadBytes', 'headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'maxWaitSeconds', 'probeTimeoutMs', 'drainTimeoutMs'] as const) positive(name);
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new RangeError(`headersTimeoutMs (${config.headersTimeoutMs}) must not exceed requestTimeoutMs (${config.requestTimeoutMs})`);
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
