import { open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { SafetensorsError } from './errors.js';
import { bf16ToF32, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from './half.js';
import { tf } from './tf.js';

/** Bytes per element of each safetensors dtype this package understands. */
const DTYPE_SIZE: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1,
};

/** The reference implementation's dtype enum order (used to order tensors when writing). */
const DTYPE_ORDER = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

/** Header sizes above this are refused (the reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor lives in a safetensors file. */
export interface SafetensorsTensorInfo {
  /** safetensors dtype as written in the header, e.g. `F32`, `BF16`. */
  dtype: string;
  shape: number[];
  byteLength: number;
}

/**
 * An open safetensors checkpoint (one file or a sharded set). Reads are
 * positional: `read(name)` reads exactly that tensor's bytes from disk.
 */
export interface SafetensorsFile {
  /** Tensor names, sorted. */
  readonly names: readonly string[];
  /** `__metadata__` of the file (for a sharded set: the first shard's, overlaid by the index's `metadata` as strings). */
  readonly metadata: Readonly<Record<string, string>>;
  /** dtype, shape and stored byte length of a tensor; throws `E_SAFETENSORS_NAME` for an unknown name. */
  info(name: string): SafetensorsTensorInfo;
  /**
   * Reads one tensor and converts it to float32 (F32, F16, BF16, F64, and the
   * integer/bool dtypes; I64/U64/U32 values beyond 2^24 lose precision).
   */
  read(name: string): Promise<Float32Array>;
  /** Reads one tensor as a tfjs tensor of its stored shape (float32; int32 for I32/I16/I8/U8/U16/BOOL). */
  tensor(name: string): Promise<tf.Tensor>;
  /** Closes the underlying file handles; later reads throw `E_SAFETENSORS_CLOSED`. */
  close(): Promise<void>;
}

interface Entry {
  dtype: string;
  shape: number[];
  begin: number; // absolute file offset
  byteLength: number;
  shard: Shard;
}

interface Shard {
  path: string;
  handle: FileHandle;
  closed: boolean;
}

function headerError(path: string, detail: string): SafetensorsError {
  return new SafetensorsError('E_SAFETENSORS_HEADER', `malformed safetensors header in ${path}: ${detail}`);
}

async function readFully(handle: FileHandle, target: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        'E_SAFETENSORS_TRUNCATED',
        `truncated safetensors file ${path}: wanted ${target.length} bytes at offset ${position}, file ended after ${done}`,
      );
    }
    done += bytesRead;
  }
}

/** Parses and validates one file's header. Returns its entries and metadata. */
async function openShard(path: string): Promise<{ shard: Shard; entries: Map<string, Entry>; metadata: Record<string, string> }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new SafetensorsError('E_SAFETENSORS_OPEN', `cannot open safetensors file ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const { size } = await handle.stat();
    if (size < 8) {
      throw new SafetensorsError('E_SAFETENSORS_TRUNCATED', `truncated safetensors file ${path}: ${size} bytes, fewer than the 8-byte header length`);
    }
    const lengthBytes = new Uint8Array(8);
    await readFully(handle, lengthBytes, 0, path);
    const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
    if (headerLength > MAX_HEADER_BYTES) {
      throw headerError(path, `header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
    }
    if (8 + headerLength > size) {
      throw new SafetensorsError(
        'E_SAFETENSORS_TRUNCATED',
        `truncated safetensors file ${path}: header length ${headerLength} needs ${8 + headerLength} bytes, file has ${size}`,
      );
    }
    const headerBytes = new Uint8Array(headerLength);
    await readFully(handle, headerBytes, 8, path);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch (cause) {
      throw headerError(path, `header is not valid UTF-8 JSON (${(cause as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw headerError(path, 'header must be a JSON object');
    }
    const shard: Shard = { path, handle, closed: false };
    const dataStart = 8 + headerLength;
    const dataSize = size - dataStart;
    const metadata: Record<string, string> = {};
    const entries = new Map<string, Entry>();
    const spans: { name: string; begin: number; end: number }[] = [];
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw headerError(path, '__metadata__ must be an object of strings');
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (typeof v !== 'string') throw headerError(path, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
          metadata[k] = v;
        }
        continue;
      }
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (info === null || typeof info !== 'object') throw headerError(path, `entry "${name}" must be an object`);
      const { dtype, shape, data_offsets: offsets } = info;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE)) {
        throw new SafetensorsError('E_SAFETENSORS_DTYPE', `unsupported dtype ${JSON.stringify(dtype)} for tensor "${name}" in ${path} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw headerError(path, `entry "${name}" has an invalid shape ${JSON.stringify(shape)}`);
      }
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
        throw headerError(path, `entry "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
      }
      const [begin, end] = offsets as [number, number];
      const numel = (shape as number[]).reduce((a, b) => a * b, 1);
      const expected = numel * DTYPE_SIZE[dtype];
      if (end < begin || end - begin !== expected) {
        throw headerError(path, `entry "${name}" data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected}`);
      }
      if (end > dataSize) {
        throw new SafetensorsError(
          'E_SAFETENSORS_TRUNCATED',
          `truncated safetensors file ${path}: tensor "${name}" ends at data offset ${end}, the data section has ${dataSize} bytes`,
        );
      }
      spans.push({ name, begin, end });
      entries.set(name, { dtype, shape: shape as number[], begin: dataStart + begin, byteLength: expected, shard });
    }
    // The spec requires the data section to be indexed without overlaps or holes.
    spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let cursor = 0;
    for (const span of spans) {
      if (span.begin < cursor) throw headerError(path, `tensor "${span.name}" [${span.begin}, ${span.end}] overlaps the previous tensor, which ends at ${cursor}`);
      if (span.begin > cursor) throw headerError(path, `hole in the data section: bytes [${cursor}, ${span.begin}) are not indexed (before "${span.name}")`);
      cursor = span.end;
    }
    return { shard, entries, metadata };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

interface ShardIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

async function resolveIndexOrFile(path: string): Promise<{ kind: 'file' | 'index'; path: string }> {
  let st;
  try {
    st = await stat(path);
  } catch (cause) {
    throw new SafetensorsError('E_SAFETENSORS_OPEN', `cannot open safetensors path ${path}: ${(cause as Error).message}`, { cause });
  }
  if (!st.isDirectory()) return { kind: path.endsWith('.index.json') ? 'index' : 'file', path };
  const files = (await readdir(path)).sort();
  const indexes = files.filter((f) => f.endsWith('.safetensors.index.json'));
  if (indexes.length === 1) return { kind: 'index', path: join(path, indexes[0]) };
  if (indexes.length > 1) {
    const preferred = indexes.find((f) => f === 'model.safetensors.index.json');
    if (preferred) return { kind: 'index', path: join(path, preferred) };
    throw new SafetensorsError('E_SAFETENSORS_INDEX', `directory ${path} holds several index files (${indexes.join(', ')}); pass one of them`);
  }
  const singles = files.filter((f) => f.endsWith('.safetensors'));
  if (singles.length === 1) return { kind: 'file', path: join(path, singles[0]) };
  if (singles.includes('model.safetensors')) return { kind: 'file', path: join(path, 'model.safetensors') };
  throw new SafetensorsError(
    'E_SAFETENSORS_OPEN',
    singles.length === 0
      ? `directory ${path} holds no .safetensors file and no .safetensors.index.json`
      : `directory ${path} holds ${singles.length} .safetensors files (${singles.join(', ')}) but no index file; pass one file`,
  );
}

class SafetensorsFileImpl implements SafetensorsFile {
  readonly names: readonly string[];

  constructor(
    private readonly entries: Map<string, Entry>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly shards: Shard[],
    private readonly label: string,
  ) {
    this.names = Object.freeze([...entries.keys()].sort());
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) {
      const near = this.names.filter((n) => n.endsWith(name.split('.').slice(-2).join('.'))).slice(0, 3);
      throw new SafetensorsError(
        'E_SAFETENSORS_NAME',
        `no tensor named "${name}" in ${this.label} (${this.names.length} tensors${near.length ? `; similar: ${near.join(', ')}` : ''})`,
      );
    }
    return entry;
  }

  info(name: string): SafetensorsTensorInfo {
    const { dtype, shape, byteLength } = this.entry(name);
    return { dtype, shape: [...shape], byteLength };
  }

  async read(name: string): Promise<Float32Array> {
    const entry = this.entry(name);
    if (entry.shard.closed) throw new SafetensorsError('E_SAFETENSORS_CLOSED', `read("${name}"): ${this.label} is closed`);
    const numel = entry.byteLength / DTYPE_SIZE[entry.dtype];
    const out = new Float32Array(numel);
    const { handle, path } = entry.shard;
    switch (entry.dtype) {
      case 'F32':
        // Read straight into the result: no intermediate buffer.
        await readFully(handle, new Uint8Array(out.buffer), entry.begin, path);
        return out;
      case 'F16':
      case 'BF16': {
        const bits = new Uint16Array(numel);
        await readFully(handle, new Uint8Array(bits.buffer), entry.begin, path);
        (entry.dtype === 'F16' ? f16ToF32 : bf16ToF32)(bits, out);
        return out;
      }
      default: {
        const raw = new Uint8Array(entry.byteLength);
        await readFully(handle, raw, entry.begin, path);
        const view = typedView(entry.dtype, raw.buffer);
        for (let i = 0; i < numel; i++) out[i] = Number(view[i]);
        return out;
      }
    }
  }

  async tensor(name: string): Promise<tf.Tensor> {
    const { dtype, shape } = this.entry(name);
    const data = await this.read(name);
    const intDtype = dtype === 'I32' || dtype === 'I16' || dtype === 'I8' || dtype === 'U8' || dtype === 'U16' || dtype === 'BOOL';
    return intDtype ? tf.tensor(Int32Array.from(data), shape, 'int32') : tf.tensor(data, shape, 'float32');
  }

  async close(): Promise<void> {
    for (const shard of this.shards) {
      if (shard.closed) continue;
      shard.closed = true;
      await shard.handle.close();
    }
  }
}

function typedView(dtype: string, buffer: ArrayBuffer): ArrayLike<number | bigint> {
  switch (dtype) {
    case 'F64': return new Float64Array(buffer);
    case 'I64': return new BigInt64Array(buffer);
    case 'U64': return new BigUint64Array(buffer);
    case 'I32': return new Int32Array(buffer);
    case 'U32': return new Uint32Array(buffer);
    case 'I16': return new Int16Array(buffer);
    case 'U16': return new Uint16Array(buffer);
    case 'I8': return new Int8Array(buffer);
    default: return new Uint8Array(buffer); // U8, BOOL
  }
}

/**
 * Opens a safetensors checkpoint: a `.safetensors` file, a sharded set's
 * `*.safetensors.index.json` (HF layout: `{ metadata, weight_map: { name: shardFile } }`),
 * or a directory holding either. Only headers are read here; tensor bytes are
 * read on demand by `read`/`tensor`. Call `close()` when done.
 * @throws SafetensorsError for a missing, truncated or malformed file or index
 */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new SafetensorsError('E_SAFETENSORS_ARG', `openSafetensors: path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  const target = await resolveIndexOrFile(path);
  if (target.kind === 'file') {
    const { shard, entries, metadata } = await openShard(target.path);
    return new SafetensorsFileImpl(entries, Object.freeze(metadata), [shard], target.path);
  }
  let index: ShardIndex;
  try {
    index = JSON.parse(await readFile(target.path, 'utf8')) as ShardIndex;
  } catch (cause) {
    throw new SafetensorsError('E_SAFETENSORS_INDEX', `cannot read safetensors index ${target.path}: ${(cause as Error).message}`, { cause });
  }
  const weightMap = index?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap) || !Object.values(weightMap).every((v) => typeof v === 'string')) {
    throw new SafetensorsError('E_SAFETENSORS_INDEX', `safetensors index ${target.path} has no weight_map object of name -> shard file`);
  }
  const dir = dirname(target.path);
  const shardFiles = [...new Set(Object.values(weightMap))].sort();
  const opened: Awaited<ReturnType<typeof openShard>>[] = [];
  try {
    for (const file of shardFiles) {
      if (basename(file) !== file) {
        throw new SafetensorsError('E_SAFETENSORS_INDEX', `safetensors index ${target.path} names shard "${file}" outside its directory`);
      }
      opened.push(await openShard(join(dir, file)));
    }
    const entries = new Map<string, Entry>();
    for (const [name, file] of Object.entries(weightMap)) {
      const shard = opened[shardFiles.indexOf(file)];
      const entry = shard.entries.get(name);
      if (!entry) {
        throw new SafetensorsError('E_SAFETENSORS_INDEX', `safetensors index ${target.path} maps "${name}" to ${file}, which has no such tensor`);
      }
      entries.set(name, entry);
    }
    const metadata: Record<string, string> = { ...opened[0]?.metadata };
    for (const [k, v] of Object.entries(index.metadata ?? {})) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    return new SafetensorsFileImpl(entries, Object.freeze(metadata), opened.map((o) => o.shard), target.path);
  } catch (error) {
    await Promise.all(opened.map((o) => o.shard.handle.close()));
    throw error;
  }
}

/** A tensor to write: a tfjs tensor or raw float32 data with its shape. */
export type SafetensorsInput = tf.Tensor | { shape: number[]; data: Float32Array };

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Stored dtype of floating-point tensors (default `F32`); int32 tfjs tensors are stored as `I32`. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** String key/values written as `__metadata__`. */
  metadata?: Record<string, string>;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Writes tensors to a `.safetensors` file, atomically (a temporary file in the
 * same directory, fsync, then rename). The layout follows the spec: an 8-byte
 * little-endian header length, the JSON header (`__metadata__` first, then
 * tensors in data order) padded with spaces to a multiple of 8, then the data,
 * tensors ordered as the reference implementation orders them (by dtype, then
 * by the names' UTF-8 bytes).
 * @throws SafetensorsError (`E_SAFETENSORS_ARG`) for a bad name, shape or metadata value
 */
export async function writeSafetensors(path: string, tensors: Record<string, SafetensorsInput>, opts: WriteSafetensorsOptions = {}): Promise<void> {
  const floatDtype = opts.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(floatDtype)) {
    throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: opts.dtype must be F32, F16 or BF16, got ${JSON.stringify(floatDtype)}`);
  }
  const metadata = opts.metadata ?? {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: metadata.${k} must be a string, got ${JSON.stringify(v)}`);
  }
  interface Item { name: string; dtype: string; shape: number[]; bytes: Uint8Array }
  const items: Item[] = [];
  for (const [name, input] of Object.entries(tensors)) {
    if (name.length === 0 || name === '__metadata__') {
      throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: invalid tensor name ${JSON.stringify(name)}`);
    }
    let shape: number[];
    let data: Float32Array | Int32Array;
    if (input instanceof tf.Tensor) {
      if (input.isDisposed) throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: tensor "${name}" is disposed`);
      if (input.dtype !== 'float32' && input.dtype !== 'int32') {
        throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: tensor "${name}" has dtype ${input.dtype}; only float32 and int32 can be written`);
      }
      shape = input.shape;
      data = (await input.data()) as Float32Array | Int32Array;
    } else {
      shape = input?.shape;
      data = input?.data;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
      }
      if (!(data instanceof Float32Array)) {
        throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: tensor "${name}".data must be a Float32Array`);
      }
      const numel = shape.reduce((a, b) => a * b, 1);
      if (numel !== data.length) {
        throw new SafetensorsError('E_SAFETENSORS_ARG', `writeSafetensors: tensor "${name}" has shape [${shape.join(', ')}] (${numel} elements) but data of length ${data.length}`);
      }
    }
    let dtype: string;
    let bytes: Uint8Array;
    if (data instanceof Int32Array) {
      dtype = 'I32';
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (floatDtype === 'F32') {
      dtype = 'F32';
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      dtype = floatDtype;
      const bits = new Uint16Array(data.length);
      const convert = floatDtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < data.length; i++) bits[i] = convert(data[i]);
      bytes = new Uint8Array(bits.buffer);
    }
    items.push({ name, dtype, shape: [...shape], bytes });
  }
  // The reference implementation sorts by dtype (its enum order, descending), then by name.
  items.sort((a, b) => DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) || compareUtf8(a.name, b.name));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const item of items) {
    header[item.name] = { dtype: item.dtype, shape: item.shape, data_offsets: [offset, offset + item.bytes.length] };
    offset += item.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.write(head);
    for (const item of items) if (item.bytes.length > 0) await handle.write(item.bytes);
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
}
