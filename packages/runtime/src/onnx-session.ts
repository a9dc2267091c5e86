import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { OnnxSessionError } from './errors.js';
import { f16ToF32 } from './half.js';

/** Execution providers a session may use, in priority order. */
export type OnnxExecutionProvider = 'cuda' | 'cpu';

/** Typed data accepted as an input feed. */
export type OnnxFeedData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** One input: flat data plus its dims. */
export interface OnnxFeed {
  data: OnnxFeedData;
  dims: readonly number[];
}

/** Declared type and shape of a model input or output; a string dim is symbolic (any size). */
export interface OnnxValueInfo {
  name: string;
  /** ONNX Runtime tensor type, e.g. `float32`, `int64`; `unknown` for a non-tensor value. */
  type: string;
  /** Dims; numbers are fixed, strings are symbolic, `null` when the rank is unknown. */
  shape: readonly (number | string)[] | null;
}

/** Options of {@link createOnnxSession}. */
export interface OnnxSessionOptions {
  /** Intra-op threads (default: ONNX Runtime's choice, one per physical core). */
  threads?: number;
  /**
   * Providers in priority order. Default: `['cuda', 'cpu']` when the CUDA EP
   * library is installed beside onnxruntime-node (falling back to `['cpu']`
   * when CUDA then fails to start), else `['cpu']`. An explicit list that
   * cannot be created throws; it never falls back.
   */
  executionProviders?: OnnxExecutionProvider[];
}

/** A loaded ONNX model. Call `dispose()` to free its native memory. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared inputs, in model order. */
  readonly inputs: readonly OnnxValueInfo[];
  /** Declared outputs, in model order. */
  readonly outputs: readonly OnnxValueInfo[];
  /** The providers the session was created with. */
  readonly executionProviders: readonly OnnxExecutionProvider[];
  /**
   * Runs the model. Every declared input must be fed, with the declared rank
   * and fixed dims, and `data.length` equal to the product of `dims`. Int32
   * data is widened to int64 where the model declares int64. Outputs are
   * returned as float32.
   * @throws OnnxSessionError `E_ONNX_INPUT` naming the input and both shapes
   */
  run(feeds: Record<string, OnnxFeed>): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  dispose(): Promise<void>;
}

type Ort = typeof OrtModule;

let ortPromise: Promise<Ort> | undefined;
function loadOrt(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node').then((m: Ort & { default?: Ort }) => m.default ?? m);
  return ortPromise;
}

/**
 * True when onnxruntime-node's CUDA execution provider library is installed
 * (its install script fetched it: `ONNXRUNTIME_NODE_INSTALL=cuda12`).
 */
export function onnxCudaAvailable(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(root, 'bin', 'napi-v6', process.platform, process.arch, lib));
  } catch {
    return false;
  }
}

const ACCEPTED: Readonly<Record<string, readonly string[]>> = {
  float32: ['Float32Array'],
  int64: ['BigInt64Array', 'Int32Array'],
  int32: ['Int32Array'],
  uint8: ['Uint8Array'],
  bool: ['Uint8Array'],
};

function fmt(shape: readonly (number | string)[] | null): string {
  return shape === null ? '[?]' : `[${shape.join(', ')}]`;
}

class OnnxSessionImpl implements OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private disposed = false;

  constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly inputs: readonly OnnxValueInfo[],
    readonly outputs: readonly OnnxValueInfo[],
    readonly executionProviders: readonly OnnxExecutionProvider[],
  ) {
    this.inputNames = Object.freeze(inputs.map((i) => i.name));
    this.outputNames = Object.freeze(outputs.map((o) => o.name));
  }

  private check(feeds: Record<string, OnnxFeed>): void {
    if (feeds === null || typeof feeds !== 'object') {
      throw new OnnxSessionError('E_ONNX_INPUT', `run: feeds must be an object keyed by input name (${this.inputNames.join(', ')})`);
    }
    const unknown = Object.keys(feeds).filter((k) => !this.inputNames.includes(k));
    if (unknown.length > 0) {
      throw new OnnxSessionError('E_ONNX_INPUT', `run: unknown input(s) ${unknown.join(', ')}; the model's inputs are ${this.inputNames.join(', ')}`);
    }
    for (const info of this.inputs) {
      const feed = feeds[info.name];
      if (!feed) throw new OnnxSessionError('E_ONNX_INPUT', `run: missing input "${info.name}" of shape ${fmt(info.shape)} (${info.type})`);
      const dims: readonly number[] = feed.dims;
      const dimsValue: unknown = dims;
      if (!Array.isArray(dimsValue) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new OnnxSessionError('E_ONNX_INPUT', `run: input "${info.name}" has invalid dims ${JSON.stringify(dims)}`);
      }
      const accepted = ACCEPTED[info.type];
      const data: unknown = feed.data;
      const kind = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
      if (accepted && !accepted.includes(kind)) {
        throw new OnnxSessionError('E_ONNX_INPUT', `run: input "${info.name}" must be ${info.type} (${accepted.join(' or ')}), got ${kind}`);
      }
      const numel = dims.reduce((a, b) => a * b, 1);
      if (feed.data.length !== numel) {
        throw new OnnxSessionError('E_ONNX_INPUT', `run: input "${info.name}" has dims ${fmt(dims)} (${numel} elements) but data of length ${feed.data.length}`);
      }
      if (info.shape === null) continue;
      const bad = dims.length !== info.shape.length || info.shape.some((d, i) => typeof d === 'number' && d >= 0 && d !== dims[i]);
      if (bad) {
        throw new OnnxSessionError('E_ONNX_INPUT', `run: input "${info.name}" expects shape ${fmt(info.shape)}, got ${fmt(dims)}`);
      }
    }
  }

  async run(feeds: Record<string, OnnxFeed>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    if (this.disposed) throw new OnnxSessionError('E_ONNX_DISPOSED', 'run: the session has been disposed');
    this.check(feeds);
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const info of this.inputs) {
      const { data, dims } = feeds[info.name];
      const widened = info.type === 'int64' && data instanceof Int32Array ? BigInt64Array.from(data, (v) => BigInt(v)) : data;
      const type = info.type === 'bool' ? 'bool' : tensorType(widened);
      ortFeeds[info.name] = new this.ort.Tensor(type, widened, dims);
    }
    let results: Record<string, OrtTensor>;
    try {
      results = await this.session.run(ortFeeds);
    } catch (cause) {
      throw new OnnxSessionError('E_ONNX_RUN', `run: ONNX Runtime failed: ${(cause as Error).message}`, { cause });
    }
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, tensor] of Object.entries(results)) {
      out[name] = { data: toFloat32(tensor), dims: [...tensor.dims] };
      tensor.dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}

function tensorType(data: OnnxFeedData): 'float32' | 'int32' | 'int64' | 'uint8' {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

function toFloat32(tensor: OrtTensor): Float32Array {
  const data = tensor.data as unknown;
  if (data instanceof Float32Array) return data;
  if (tensor.type === 'float16' && data instanceof Uint16Array) {
    const out = new Float32Array(data.length);
    f16ToF32(data, out);
    return out;
  }
  if (ArrayBuffer.isView(data)) return Float32Array.from(data as unknown as ArrayLike<number | bigint>, (v) => Number(v));
  throw new OnnxSessionError('E_ONNX_RUN', `run: output of type ${tensor.type} cannot be converted to float32`);
}

function describe(meta: readonly InferenceSession.ValueMetadata[] | undefined, names: readonly string[]): OnnxValueInfo[] {
  return names.map((name, i) => {
    const m = meta?.[i];
    if (!m || !m.isTensor) return { name, type: 'unknown', shape: null };
    const shape = m.shape.length === 0 ? [] : [...m.shape];
    return { name, type: m.type, shape };
  });
}

/**
 * Loads an ONNX model into ONNX Runtime (onnxruntime-node).
 * @param model path of a `.onnx` file, or its bytes
 * @throws OnnxSessionError `E_ONNX_LOAD` when the model or the requested providers cannot be loaded
 */
export async function createOnnxSession(model: string | Uint8Array, opts: OnnxSessionOptions = {}): Promise<OnnxSession> {
  if (typeof model !== 'string' && !(model instanceof Uint8Array)) {
    throw new OnnxSessionError('E_ONNX_LOAD', 'createOnnxSession: model must be a file path or a Uint8Array of ONNX bytes');
  }
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new OnnxSessionError('E_ONNX_LOAD', `createOnnxSession: threads must be a positive integer, got ${opts.threads}`);
  }
  const requested = opts.executionProviders;
  if (requested !== undefined && (!Array.isArray(requested) || requested.length === 0 || !requested.every((p) => p === 'cuda' || p === 'cpu'))) {
    throw new OnnxSessionError('E_ONNX_LOAD', `createOnnxSession: executionProviders must be a non-empty list of 'cuda' | 'cpu', got ${JSON.stringify(requested)}`);
  }
  const providers: OnnxExecutionProvider[] = requested ?? (onnxCudaAvailable() ? ['cuda', 'cpu'] : ['cpu']);
  const ort = await loadOrt();
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
  };
  const create = (options: typeof sessionOptions) =>
    typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
  let session: InferenceSession;
  try {
    try {
      session = await create(sessionOptions);
    } catch (cudaError) {
      // Default choice only: the CUDA EP library is installed but cannot start (no driver/GPU) → CPU.
      if (requested !== undefined || !providers.includes('cuda')) throw cudaError;
      providers.splice(0, providers.length, 'cpu');
      session = await create({ ...sessionOptions, executionProviders: providers });
    }
  } catch (cause) {
    const what = typeof model === 'string' ? model : `${model.byteLength}-byte model`;
    throw new OnnxSessionError('E_ONNX_LOAD', `createOnnxSession: cannot load ${what} with providers [${providers.join(', ')}]: ${(cause as Error).message}`, { cause });
  }
  const inputs = describe(session.inputMetadata, session.inputNames);
  const outputs = describe(session.outputMetadata, session.outputNames);
  return new OnnxSessionImpl(ort, session, inputs, outputs, providers);
}
