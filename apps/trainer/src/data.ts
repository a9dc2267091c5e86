import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { readManifest, splitBySource, writeFileAtomic, type ManifestEntry, type SplitName } from '@vqlm/datasets';
import { FeatureCache } from '@vqlm/encoders';
import { sampleLmmVqaViews, type CpLlm, type LmmVqa } from '@vqlm/models';
import { sampleViews } from '@vqlm/video-io';
import type { TrainConfig } from './config.js';
import { TrainerError } from './errors.js';

/** One manifest entry with both views decoded and its frozen context features computed. */
export interface PreparedItem {
  readonly entry: ManifestEntry;
  readonly split: SplitName;
  /** Absolute video path. */
  readonly path: string;
  /** Context view `[M, S, S, 3]`, uint8. */
  readonly context: Uint8Array;
  /** Pixel view `[M, K, P, P, 3]`, uint8. */
  readonly pixel: Uint8Array;
  /** Frozen context features `[M, Th, F]`. */
  readonly features: Float32Array;
  /** Decoded frame index of each key frame. */
  readonly frameIndices: readonly number[];
}

/** An entry that could not be decoded; it is left out of training and evaluation. */
export interface FailedItem {
  readonly id: string;
  readonly path: string;
  readonly reason: string;
}

/** One manifest entry with LMM-VQA's inputs decoded: the key frames and the dense clip. */
export interface LmmPreparedItem {
  readonly entry: ManifestEntry;
  readonly split: SplitName;
  /** Absolute video path. */
  readonly path: string;
  /** Key frames `[M, S, S, 3]`, uint8, S = the spatial ViT's image size. */
  readonly frames: Uint8Array;
  /** Clip `[T, s, s, 3]`, uint8, for the temporal encoder. */
  readonly clip: Uint8Array;
  /** The user's ONNX spatial tower's tokens of the key frames `[M, Tq, F]` (`model.contextTowerOnnx`), computed once; absent with the tfjs ViT. */
  readonly spatialFeatures?: Float32Array;
}

/** The training data: entries by split, each prepared once for all epochs. */
export interface PreparedData<Item = PreparedItem> {
  readonly items: ReadonlyMap<string, Item>;
  readonly splits: Readonly<Record<SplitName, readonly ManifestEntry[]>>;
  readonly failed: readonly FailedItem[];
  /** Context frames encoded in this run (cache misses) and read from the feature cache (hits). */
  readonly featureStats: { readonly encoded: number; readonly cached: number };
}

/** Progress of {@link prepareData}: one step per entry. */
export interface PrepareProgress {
  readonly done: number;
  readonly total: number;
  readonly id: string;
}

/** Options of {@link prepareData}. */
export interface PrepareOptions {
  /** Directory of the view and feature caches (shared by runs and resumes). */
  readonly cacheDir: string;
  /** Videos decoded at once (default 2). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: PrepareProgress) => void;
}

/**
 * Reads the manifest, keeps the entries of the configured recipe kinds, and assigns splits: the
 * manifest's `split` column when every entry has one, else a split by source (seeded).
 * @throws TrainerError `E_DATA` for an unreadable manifest, `E_SPLIT` when train is empty.
 */
export async function loadEntries(config: TrainConfig): Promise<{ entries: ManifestEntry[]; root: string }> {
  let entries: ManifestEntry[];
  try {
    entries = await readManifest(config.data.manifest);
  } catch (error) {
    throw new TrainerError('E_DATA', `data.manifest: ${(error as Error).message}`, { cause: error });
  }
  const kinds = config.data.kinds;
  if (kinds) entries = entries.filter((e) => e.variant === undefined || e.variant.recipe.kind === 'original' || kinds.includes(e.variant.recipe.kind));
  if (entries.length === 0) throw new TrainerError('E_DATA', `data.manifest: ${config.data.manifest} has no usable entries`);
  if (!entries.every((e) => e.split !== undefined)) entries = splitBySource(entries, { seed: config.data.splitSeed ?? config.seed, ratios: config.data.ratios });
  if (!entries.some((e) => e.split === 'train')) throw new TrainerError('E_SPLIT', `data.manifest: no entry in the train split`);
  return { entries, root: dirname(config.data.manifest) };
}

/** Entries by split. */
export function bySplit(entries: readonly ManifestEntry[]): Record<SplitName, ManifestEntry[]> {
  const out: Record<SplitName, ManifestEntry[]> = { train: [], val: [], test: [] };
  for (const e of entries) out[e.split ?? 'train'].push(e);
  return out;
}

const VIEW_MAGIC = 'vqlm-views-1';
const LMM_VIEW_MAGIC = 'vqlm-lmm-views-1';

/** Cache key of a video's decoded views: the file (path, size, mtime) and the view settings. */
async function viewKey(path: string, settings: readonly unknown[]): Promise<string> {
  const info = await stat(path);
  return createHash('sha256')
    .update(JSON.stringify([...settings.slice(0, 1), resolve(path), info.size, info.mtimeMs, ...settings.slice(1)]))
    .digest('hex');
}

interface Views {
  readonly context: Uint8Array;
  readonly pixel: Uint8Array;
  readonly frameIndices: number[];
}

async function readCachedViews(file: string, contextBytes: number, pixelBytes: number): Promise<Views | null> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    return null;
  }
  const headerLength = data.length >= 4 ? data.readUInt32LE(0) : -1;
  if (headerLength < 0 || 4 + headerLength + contextBytes + pixelBytes !== data.length) return null;
  const header = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8')) as { frameIndices: number[] };
  const start = 4 + headerLength;
  return {
    frameIndices: header.frameIndices,
    context: new Uint8Array(data.subarray(start, start + contextBytes)),
    pixel: new Uint8Array(data.subarray(start + contextBytes)),
  };
}

async function writeCachedViews(file: string, views: Views): Promise<void> {
  const header = Buffer.from(JSON.stringify({ frameIndices: views.frameIndices }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length, 0);
  await writeFileAtomic(file, Buffer.concat([length, header, views.context, views.pixel]));
}

/**
 * A video's two views from the view cache under `cacheDir` (by `key`), else from `decode`,
 * which is then cached. The views must have exactly the given byte sizes.
 */
async function cachedViews(cacheDir: string, key: string, bytes: readonly [number, number], decode: () => Promise<Views>): Promise<Views> {
  const file = join(cacheDir, 'views', key.slice(0, 2), `${key}.bin`);
  const cached = await readCachedViews(file, bytes[0], bytes[1]);
  if (cached) return cached;
  const views = await decode();
  await writeCachedViews(file, views);
  return views;
}

/**
 * Runs `prepare` on every entry, `options.concurrency` at a time, with progress; an entry whose
 * video fails is reported in `failed` and left out (a {@link TrainerError} stops everything).
 */
async function prepareEach<Item>(entries: readonly ManifestEntry[], root: string, options: PrepareOptions, prepare: (entry: ManifestEntry, path: string) => Promise<Item>): Promise<{ items: Map<string, Item>; failed: FailedItem[] }> {
  const items = new Map<string, Item>();
  const failed: FailedItem[] = [];
  const queue = [...entries];
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      if (options.signal?.aborted) throw new TrainerError('E_DATA', 'preparing the data was interrupted');
      const path = isAbsolute(entry.path) ? entry.path : resolve(root, entry.path);
      try {
        items.set(entry.id, await prepare(entry, path));
      } catch (error) {
        if (error instanceof TrainerError) throw error;
        failed.push({ id: entry.id, path, reason: ((error as Error).message ?? String(error)).split('\n')[0] ?? '' });
      }
      done++;
      options.onProgress?.({ done, total: entries.length, id: entry.id });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, () => worker()));
  return { items, failed };
}

/**
 * Decodes both views of every entry once (cached on disk by file, size, mtime and view settings)
 * and computes the frozen context features once per frame (cached on disk by content, frame and
 * encoder). Entries whose video cannot be decoded are reported in `failed` and left out.
 */
export async function prepareData(entries: readonly ManifestEntry[], root: string, model: CpLlm, options: PrepareOptions): Promise<PreparedData> {
  const { m, k, contextSize: s, patchSize: p, pixelFit, pixelUpscale } = model.config;
  const contextBytes = m * s * s * 3;
  const pixelBytes = m * k * p * p * 3;
  const cache = new FeatureCache(join(options.cacheDir, 'features'));
  const { items, failed } = await prepareEach(entries, root, options, async (entry, path): Promise<PreparedItem> => {
    const key = await viewKey(path, [VIEW_MAGIC, m, k, s, p, pixelFit, pixelUpscale]);
    const views = await cachedViews(options.cacheDir, key, [contextBytes, pixelBytes], async () => {
      const sampled = await sampleViews(path, { m, context: { size: s }, pixel: { fit: [pixelFit[0], pixelFit[1]], patch: p, k, upscale: pixelUpscale }, signal: options.signal });
      if (!sampled.context || !sampled.pixel) throw new Error('no views returned');
      if (sampled.context.frames.length !== contextBytes || sampled.pixel.frames.length !== pixelBytes) {
        throw new Error(`expected ${m} key frames, got ${sampled.indices.length}`);
      }
      return { context: sampled.context.frames, pixel: sampled.pixel.frames, frameIndices: sampled.indices };
    });
    const features = await model.encodeContext({ data: views.context, dims: [1, m, s, s, 3] }, { cache, frameIndices: views.frameIndices, contentHash: key });
    const values = new Float32Array(await features.data());
    features.dispose();
    return { entry, split: entry.split ?? 'train', path, context: views.context, pixel: views.pixel, features: values, frameIndices: views.frameIndices };
  });
  const kept = entries.filter((e) => items.has(e.id));
  return { items, splits: bySplit(kept), failed, featureStats: { encoded: cache.misses, cached: cache.hits } };
}

/**
 * LMM-VQA's inputs of every entry, decoded once and cached like {@link prepareData}'s views: M key
 * frames at the spatial ViT's size and T clip frames at the temporal encoder's, sampled as
 * `LmmVqaScorer` samples them when scoring. The frozen tfjs spatial ViT runs in every step; a
 * user's ONNX tower (`model.spatialTower`) runs outside tfjs, so its tokens are computed here, once
 * per video (in memory, not on disk).
 */
export async function prepareLmmData(entries: readonly ManifestEntry[], root: string, model: LmmVqa, options: PrepareOptions): Promise<PreparedData<LmmPreparedItem>> {
  const { m, spatialVit, temporal, views: cut } = model.config;
  const s = spatialVit.imageSize;
  const t = temporal.numFrames;
  const c = temporal.imageSize;
  const bytes: [number, number] = [m * s * s * 3, t * c * c * 3];
  let encoded = 0;
  const { items, failed } = await prepareEach(entries, root, options, async (entry, path): Promise<LmmPreparedItem> => {
    // `resized` keeps the key of caches written before `views` existed.
    const key = await viewKey(path, cut === 'resized' ? [LMM_VIEW_MAGIC, m, s, t, c] : [LMM_VIEW_MAGIC, m, s, t, c, cut]);
    const views = await cachedViews(options.cacheDir, key, bytes, async () => {
      const sampled = await sampleLmmVqaViews(path, model.config, { signal: options.signal });
      return { context: sampled.frames.data, pixel: sampled.clip.data, frameIndices: sampled.keyFrames.map((f) => f.index) };
    });
    let spatialFeatures: Float32Array | undefined;
    if (model.spatialTower !== null) {
      const features = await model.spatialFeatures({ data: views.context, dims: [1, m, s, s, 3] });
      spatialFeatures = (await features.data()) as Float32Array;
      features.dispose();
      encoded += m;
    }
    return { entry, split: entry.split ?? 'train', path, frames: views.context, clip: views.pixel, ...(spatialFeatures ? { spatialFeatures } : {}) };
  });
  const kept = entries.filter((e) => items.has(e.id));
  return { items, splits: bySplit(kept), failed, featureStats: { encoded, cached: 0 } };
}
