import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BackendError } from './errors.js';
import { tf } from './tf.js';
import { registerGradients } from './gradients.js';
import { registerWasmKernels } from './wasm-kernels.js';

/** The tensor backends vqlm can run tfjs on, fastest first. */
export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu';

/** Default order in which {@link initBackend} tries backends. */
export const BACKEND_ORDER: readonly BackendName[] = Object.freeze(['node-gpu', 'node', 'wasm', 'cpu']);

/** What {@link initBackend} chose, and what it tried before. */
export interface BackendInfo {
  name: BackendName;
  /** The tfjs backend name now active (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Every backend tried, in order; `error` says why one was skipped. */
  tried: { name: BackendName; error?: string }[];
}

/** Context handed to a candidate's `load`. */
export interface BackendLoadContext {
  /** Threads requested by the caller (wasm: worker threads where supported). */
  threads?: number;
}

/**
 * One way to get a tfjs backend: a config object, so the list of backends is
 * data. `load` makes the tfjs backend `tfBackend` available (importing its
 * module, registering kernels) and throws when it cannot.
 */
export interface BackendCandidate {
  name: BackendName;
  tfBackend: string;
  load(context: BackendLoadContext): Promise<void>;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Use exactly this backend; failure throws (no fallback). Overrides `VQLM_BACKEND`. */
  backend?: BackendName;
  /** Threads for the wasm backend (only honoured where wasm threads are supported). */
  threads?: number;
  /** Where the one line naming the chosen backend goes (default: `console.error`). */
  log?: (line: string) => void;
  /** Candidates to try, in order (default {@link defaultBackendCandidates}). */
  candidates?: readonly BackendCandidate[];
}

const require = createRequire(import.meta.url);

function packageDir(pkg: string): string {
  return dirname(require.resolve(`${pkg}/package.json`));
}

/**
 * tfjs-node's module registers its kernels before it finds out that its native
 * addon is missing, so probe for `lib/napi-v*\/tfjs_binding.node` first and
 * import only when it is there.
 */
function nativeCandidate(name: 'node-gpu' | 'node', pkg: string): BackendCandidate {
  return {
    name,
    tfBackend: 'tensorflow',
    async load() {
      let dir: string;
      try {
        dir = packageDir(pkg);
      } catch {
        throw new Error(`${pkg} is not installed`);
      }
      const lib = join(dir, 'lib');
      const built = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
      if (!built) {
        throw new Error(`${pkg} is installed but its native addon (tfjs_binding.node) is not built; run \`pnpm rebuild ${pkg}\` with its install script allowed`);
      }
      await import(pkg);
    },
  };
}

let wasmDirectorySet = false;

/** The built-in candidates, in {@link BACKEND_ORDER}. */
export const defaultBackendCandidates: readonly BackendCandidate[] = Object.freeze([
  nativeCandidate('node-gpu', '@tensorflow/tfjs-node-gpu'),
  nativeCandidate('node', '@tensorflow/tfjs-node'),
  {
    name: 'wasm',
    tfBackend: 'wasm',
    async load({ threads }: BackendLoadContext) {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (!wasmDirectorySet) {
        // In Node the .wasm binaries are read from the installed package's dist/ folder.
        const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
        wasm.setWasmPaths(`${dist}/`);
        wasmDirectorySet = true;
      }
      if (threads !== undefined) wasm.setThreadsCount(threads);
      registerWasmKernels();
    },
  },
  {
    name: 'cpu',
    tfBackend: 'cpu',
    async load() {
      await import('@tensorflow/tfjs-backend-cpu');
    },
  },
]);

let current: BackendInfo | undefined;
const logged = new Set<string>();

function parseBackendName(value: string, source: string): BackendName {
  if ((BACKEND_ORDER as readonly string[]).includes(value)) return value as BackendName;
  throw new BackendError(`${source} must be one of ${BACKEND_ORDER.join(', ')}, got ${JSON.stringify(value)}`);
}

async function activate(candidate: BackendCandidate, context: BackendLoadContext): Promise<void> {
  await candidate.load(context);
  if (tf.findBackendFactory(candidate.tfBackend) === null && tf.findBackend(candidate.tfBackend) === null) {
    throw new Error(`loading did not register the tfjs backend "${candidate.tfBackend}"`);
  }
  const ok = await tf.setBackend(candidate.tfBackend);
  if (!ok) throw new Error(`tfjs could not initialise the "${candidate.tfBackend}" backend`);
  await tf.ready();
  if (candidate.tfBackend === 'cpu') {
    // tfjs's cpu backend prints a multi-line "install tfjs-node" banner on first use;
    // initBackend's own log line already says which backend runs and why.
    const cpu = tf.backend() as unknown as { firstUse?: boolean };
    if (cpu.firstUse === true) cpu.firstUse = false;
  }
}

function describeDetail(info: BackendInfo): string {
  const detail: string[] = [];
  if (info.name === 'wasm') {
    detail.push(`simd=${String(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'))}`);
    detail.push(`threads=${String(tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'))}`);
  }
  const skipped = info.tried.filter((t) => t.error).map((t) => t.name);
  if (skipped.length > 0) detail.push(`skipped: ${skipped.join(', ')}`);
  return detail.length ? ` (${detail.join('; ')})` : '';
}

/**
 * Chooses and initialises the tfjs backend: `opts.backend`, else the
 * `VQLM_BACKEND` environment variable, else the first of node-gpu → node →
 * wasm → cpu that loads. A backend whose module is missing or whose init
 * fails is skipped and recorded in `tried`. The choice is logged once.
 * Registration (backends, the wasm kernels vqlm adds, tfjs's gradients)
 * happens here, by this explicit call, never on import.
 * @throws BackendError when an explicitly requested backend fails (never falls back), or none works
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const log = opts.log ?? ((line: string) => console.error(line));
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new BackendError(`initBackend: threads must be a positive integer, got ${opts.threads}`);
  }
  const envValue = process.env.VQLM_BACKEND;
  const explicit = opts.backend !== undefined
    ? parseBackendName(opts.backend, 'initBackend: backend')
    : envValue
      ? parseBackendName(envValue, 'VQLM_BACKEND')
      : undefined;
  const candidates = opts.candidates ?? defaultBackendCandidates;
  const order = explicit ? candidates.filter((c) => c.name === explicit) : candidates;
  if (explicit && order.length === 0) throw new BackendError(`initBackend: no candidate provides backend "${explicit}"`);

  if (current && tf.getBackend() === current.tfBackend && (explicit === undefined || explicit === current.name) && !opts.candidates) {
    return { ...current, tried: [...current.tried] };
  }

  await registerGradients();
  const tried: BackendInfo['tried'] = [];
  for (const candidate of order) {
    try {
      await activate(candidate, { threads: opts.threads });
    } catch (error) {
      tried.push({ name: candidate.name, error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    tried.push({ name: candidate.name });
    const info: BackendInfo = { name: candidate.name, tfBackend: candidate.tfBackend, tried };
    current = info;
    if (!logged.has(info.name)) {
      logged.add(info.name);
      log(`vqlm: tensor backend ${info.name} (tfjs "${info.tfBackend}")${describeDetail(info)}`);
    }
    return { ...info, tried: [...tried] };
  }
  const reasons = tried.map((t) => `${t.name}: ${t.error}`).join('; ');
  throw new BackendError(
    explicit
      ? `backend "${explicit}" was requested${opts.backend ? '' : ' by VQLM_BACKEND'} but failed to initialise: ${reasons}`
      : `no tensor backend could be initialised: ${reasons}`,
  );
}

/** The backend chosen by the last successful {@link initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current && { ...current, tried: [...current.tried] };
}
