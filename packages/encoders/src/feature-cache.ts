import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EncoderError } from './errors.js';

/** What identifies one cached feature tensor. */
export interface FeatureKey {
  /** Encoder id (model + weights + input size); different encoders never share entries. */
  readonly encoderId: string;
  /** Hex hash of the content (by default, SHA-256 of the frame's bytes). */
  readonly contentHash: string;
  /** Index of the frame in its video. */
  readonly frameIndex: number;
}

/** One cached tensor: float32 values and their dims (e.g. `[Th, F]`). */
export interface CachedFeature {
  readonly data: Float32Array;
  readonly dims: number[];
}

const MAGIC = 0x43465156; // "VQFC" little-endian
const VERSION = 1;

/** SHA-256 (hex) of some bytes: the default content hash of a frame. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Features of frozen encoders on disk, one file per (encoder id, content
 * hash, frame index): `<dir>/<encoder>/<hash[0..2]>/<hash>-<frame>.f32`.
 * Files are written atomically (temporary file, then rename), so concurrent
 * writers and crashes never leave a partial entry. An unreadable entry
 * counts as a miss and is overwritten by the next `put`.
 */
export class FeatureCache {
  readonly directory: string;
  /** Lookups answered from disk. */
  hits = 0;
  /** Lookups that found nothing usable. */
  misses = 0;

  constructor(directory: string) {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new EncoderError('E_ARG', 'directory: expected a non-empty path');
    }
    this.directory = directory;
  }

  /** Path of the entry for `key`. Throws `E_ARG` for a malformed key. */
  pathOf(key: FeatureKey): string {
    if (!/^[0-9a-f]{8,128}$/.test(key.contentHash)) {
      throw new EncoderError('E_ARG', `contentHash: expected 8–128 lowercase hex digits, got "${key.contentHash}"`);
    }
    if (!Number.isInteger(key.frameIndex) || key.frameIndex < 0) {
      throw new EncoderError('E_ARG', `frameIndex: expected an integer ≥ 0, got ${key.frameIndex}`);
    }
    if (!key.encoderId) throw new EncoderError('E_ARG', 'encoderId: expected a non-empty id');
    const encoder = key.encoderId.replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.directory, encoder, key.contentHash.slice(0, 2), `${key.contentHash}-${key.frameIndex}.f32`);
  }

  /** The entry for `key`, or `undefined` (also when its dims differ from `expectDims`). */
  async get(key: FeatureKey, expectDims?: readonly number[]): Promise<CachedFeature | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.misses++;
        return undefined;
      }
      throw error;
    }
    const parsed = decode(bytes);
    if (!parsed || (expectDims && (parsed.dims.length !== expectDims.length || parsed.dims.some((d, i) => d !== expectDims[i])))) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return parsed;
  }

  /** Stores `feature` under `key`, atomically. */
  async put(key: FeatureKey, feature: CachedFeature): Promise<void> {
    const size = feature.dims.reduce((a, b) => a * b, 1);
    if (feature.data.length !== size) {
      throw new EncoderError('E_SHAPE', `feature: ${feature.data.length} values for shape [${feature.dims.join(', ')}]`);
    }
    const path = this.pathOf(key);
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, encode(feature));
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** Removes every entry of `encoderId` (or the whole cache). */
  async clear(encoderId?: string): Promise<void> {
    const target = encoderId ? join(this.directory, encoderId.replace(/[^A-Za-z0-9._-]/g, '_')) : this.directory;
    await rm(target, { recursive: true, force: true });
  }
}

function encode(feature: CachedFeature): Uint8Array {
  const header = new Uint32Array([MAGIC, VERSION, feature.dims.length, ...feature.dims]);
  const out = new Uint8Array(header.byteLength + feature.data.byteLength);
  out.set(new Uint8Array(header.buffer), 0);
  out.set(new Uint8Array(feature.data.buffer, feature.data.byteOffset, feature.data.byteLength), header.byteLength);
  return out;
}

function decode(bytes: Buffer): CachedFeature | undefined {
  if (bytes.byteLength < 12) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) return undefined;
  const rank = view.getUint32(8, true);
  if (rank > 8 || bytes.byteLength < 12 + 4 * rank) return undefined;
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(12 + 4 * i, true));
  const offset = 12 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== offset + 4 * size) return undefined;
  const data = new Float32Array(size);
  new Uint8Array(data.buffer).set(bytes.subarray(offset));
  return { data, dims };
}
