import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { cutSegment, fullReference, makeVariants, probe, type LadderStep } from '@vqlm/video-io';
import { writeFileAtomic } from './atomic-write.js';
import { DescriptionStore, describeVariant } from './descriptions.js';
import { DatasetError } from './errors.js';
import { h264Recipes, variantId } from './ladder.js';
import {
  manifestEntrySchema,
  writeManifestCsv,
  writeManifestJsonl,
  type ManifestEntry,
  type VariantRecipe,
} from './manifest.js';
import { runPool } from './pool.js';
import { assignPseudoMos } from './pseudo-mos.js';
import { assignSplits, splitBySource, type SplitAssignment } from './splits.js';

/** File extensions the builder treats as source clips. */
export const VIDEO_EXTENSIONS: readonly string[] = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts', '.flv', '.wmv', '.y4m'];

/** What a user may say about a source clip, for the generated descriptions. */
export interface SourceLabel {
  readonly content?: string;
  readonly style?: string;
}

/** Progress of {@link buildCorpus}. */
export interface CorpusProgress {
  /** `segment`: probing and cutting sources (one step per source); `variant`: encoding and scoring (one step per variant). */
  readonly phase: 'segment' | 'variant';
  readonly done: number;
  readonly total: number;
  /** Steps of this phase taken from a previous run. */
  readonly reused: number;
  /** Id of the step just finished. */
  readonly item: string;
  readonly elapsedMs: number;
  /** Estimated time left in this phase, from the mean time of the steps built so far. */
  readonly etaMs?: number;
}

/** Options of {@link buildCorpus}. */
export interface BuildCorpusOptions {
  /** A directory of source clips (not recursive) or a list of files. */
  readonly sources: string | readonly string[];
  /** Output directory (created); a second run into it resumes. */
  readonly out: string;
  /** Distortion steps (default: H.264 CRF 15..53 step 2, the paper's 20 levels); level = index + 1. */
  readonly ladder?: readonly VariantRecipe[];
  /** Length of the segments cut from each source, in seconds (default 4). A shorter source gives one segment. */
  readonly segmentSeconds?: number;
  /** At most this many segments per source (default no limit). */
  readonly maxSegmentsPerSource?: number;
  /** libvmaf 1.x model file (e.g. `vmaf_v0.6.1.pkl`); without it VMAF is skipped and pseudo-MOS is order-only. */
  readonly vmafModel?: string;
  /** Encodes / metric runs in flight (default half the CPUs, at least 1). */
  readonly concurrency?: number;
  /** x264 preset of the variants (default `medium`, as `@vqlm/video-io`). */
  readonly preset?: string;
  /** Seed of the split by source (default 0). */
  readonly splitSeed?: number;
  /** Name the validation and test sources (source ids) instead of drawing them with `splitSeed`; the rest train. */
  readonly splits?: SplitAssignment;
  /** Content / style per source file name or stem, for the descriptions. */
  readonly sourceLabels?: Readonly<Record<string, SourceLabel>>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: CorpusProgress) => void;
}

/** A source clip left out, and why. */
export interface SkippedSource {
  readonly source: string;
  readonly reason: string;
}

/** A variant that could not be made or scored, and why. */
export interface FailedItem {
  readonly id: string;
  readonly reason: string;
}

/** Timing of one built variant, as stored in its record. */
export interface VariantTiming {
  /** Wall time of the encode (`makeVariants`, one step). */
  readonly encodeMs: number;
  /** Wall time of the full-reference scores. */
  readonly metricsMs: number;
  /** Wall time of the whole item: encode, scores, renames, record. */
  readonly totalMs: number;
}

/** What {@link buildCorpus} returns (also written to `report.json`, less `entries`). */
export interface CorpusResult {
  readonly out: string;
  readonly manifestPath: string;
  readonly manifestCsvPath: string;
  readonly descriptionsPath: string;
  readonly reportPath: string;
  /** Every entry of the manifest (segments at level 0, then their variants). */
  readonly entries: ManifestEntry[];
  readonly sources: number;
  readonly segments: number;
  readonly variants: number;
  /** Steps (segments and variants) built in this run. */
  readonly built: number;
  /** Steps taken from a previous run. */
  readonly reused: number;
  readonly skipped: SkippedSource[];
  readonly failed: FailedItem[];
  /** `vmaf-anchored` when every variant has VMAF, else `order-only`. */
  readonly pseudoMosMethod: 'vmaf-anchored' | 'order-only';
  readonly wallMs: number;
}

interface ItemRecord {
  readonly entry: ManifestEntry;
  readonly timing?: VariantTiming;
}

interface SegmentPlan {
  readonly id: string;
  readonly sourceId: string;
  readonly sourceFile: string;
  readonly start: number;
  readonly duration: number;
}

const errorCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

const reasonOf = (err: unknown): string => {
  const code = errorCode(err);
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return code && !message.includes(code) ? `${message} [${code}]` : message;
};

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return errorCode(err) === 'E_ABORTED' || (signal?.aborted ?? false);
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

function safeStem(file: string): string {
  return basename(file, extname(file)).replace(/[^A-Za-z0-9._-]+/g, '_') || 'video';
}

async function listSources(sources: string | readonly string[]): Promise<string[]> {
  if (typeof sources !== 'string') return sources.map((s) => resolve(s));
  const dir = resolve(sources);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DatasetError('E_ARGUMENT', `sources: cannot read directory '${sources}' (${errorCode(err) ?? 'error'})`, { cause: err });
  }
  return names
    .filter((n) => !n.startsWith('.') && VIDEO_EXTENSIONS.includes(extname(n).toLowerCase()))
    .sort()
    .map((n) => join(dir, n));
}

async function readRecord(path: string): Promise<ItemRecord | undefined> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as { entry?: unknown; timing?: VariantTiming };
    const entry = manifestEntrySchema.parse(raw.entry);
    return { entry, ...(raw.timing ? { timing: raw.timing } : {}) };
  } catch {
    return undefined;
  }
}

function sameRecipe(a: VariantRecipe | undefined, b: VariantRecipe): boolean {
  return !!a && a.kind === b.kind && a.crf === b.crf && a.sigma === b.sigma && a.strength === b.strength && a.factor === b.factor;
}

function toLadderStep(recipe: VariantRecipe): LadderStep {
  if (recipe.kind === 'original') {
    throw new DatasetError('E_ARGUMENT', `ladder: 'original' is level 0 and cannot be a ladder step`);
  }
  const step: LadderStep = { kind: recipe.kind };
  if (recipe.crf !== undefined) step.crf = recipe.crf;
  if (recipe.sigma !== undefined) step.sigma = recipe.sigma;
  if (recipe.strength !== undefined) step.strength = recipe.strength;
  if (recipe.factor !== undefined) step.factor = recipe.factor;
  return step;
}

/**
 * Builds a training corpus from source clips: cuts each source into
 * segments (`@vqlm/video-io` `cutSegment`, near-lossless, the reference of
 * its ladder), makes every ladder step of every segment (`makeVariants`),
 * scores it against its segment (`fullReference`: PSNR, SSIM and, with
 * `vmafModel`, VMAF), then writes `manifest.jsonl`, `manifest.csv`,
 * `descriptions.jsonl` and `report.json` into `out`.
 *
 * - Pseudo-MOS: VMAF anchored on 5 (see `pseudoMosFromVmaf`), forced
 *   non-increasing along each ladder; order-only without a VMAF model.
 * - Resumable: each finished step leaves a record in `out/records/`,
 *   written after its video is in place; every file goes through a temp
 *   file and a rename, so a crash or abort never leaves a file that looks
 *   finished. A later run reuses finished steps and rebuilds the rest.
 * - A source that cannot be probed or cut is skipped and listed in
 *   `skipped`; a variant that fails is listed in `failed`; the rest goes on.
 * - `signal` aborts: running ffmpeg processes are killed, the temp files
 *   removed, and the call rejects with `E_ABORTED`.
 */
export async function buildCorpus(options: BuildCorpusOptions): Promise<CorpusResult> {
  const started = Date.now();
  const { signal } = options;
  const segmentSeconds = options.segmentSeconds ?? 4;
  if (!(Number.isFinite(segmentSeconds) && segmentSeconds > 0)) {
    throw new DatasetError('E_ARGUMENT', `segmentSeconds must be a positive number, got ${segmentSeconds}`);
  }
  const maxSegments = options.maxSegmentsPerSource ?? Number.POSITIVE_INFINITY;
  if (!(maxSegments >= 1)) throw new DatasetError('E_ARGUMENT', `maxSegmentsPerSource must be ≥ 1, got ${maxSegments}`);
  const concurrency = options.concurrency ?? Math.max(1, Math.floor(availableParallelism() / 2));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DatasetError('E_ARGUMENT', `concurrency must be a positive integer, got ${concurrency}`);
  }
  const ladder = options.ladder ?? h264Recipes();
  if (ladder.length === 0) throw new DatasetError('E_ARGUMENT', 'ladder must have at least one step');
  const steps = ladder.map(toLadderStep);
  const ids = new Set(ladder.map((r) => variantId('x', r)));
  if (ids.size !== ladder.length) throw new DatasetError('E_ARGUMENT', 'ladder has the same step twice');
  if (options.vmafModel !== undefined && !existsSync(options.vmafModel)) {
    throw new DatasetError('E_ARGUMENT', `vmafModel: file not found '${options.vmafModel}'`);
  }
  if (typeof options.out !== 'string' || options.out === '') throw new DatasetError('E_ARGUMENT', 'out must be a directory path');

  const out = resolve(options.out);
  const dirs = { segments: join(out, 'segments'), variants: join(out, 'variants'), records: join(out, 'records'), work: join(out, '.work') };
  const sourceFiles = await listSources(options.sources);
  if (sourceFiles.length === 0) throw new DatasetError('E_ARGUMENT', `sources: no video files in '${String(options.sources)}'`);
  await rm(dirs.work, { recursive: true, force: true });
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });

  const skipped: SkippedSource[] = [];
  const failed: FailedItem[] = [];
  let built = 0;
  let reused = 0;
  const abortError = () => new DatasetError('E_ABORTED', `corpus build aborted; run again with the same out '${options.out}' to resume`);
  const checkAbort = () => {
    if (signal?.aborted) throw abortError();
  };

  // unique source ids from file stems
  const sourceIds = new Map<string, string>();
  const taken = new Set<string>();
  for (const file of sourceFiles) {
    let id = safeStem(file);
    if (taken.has(id)) id = `${id}_${extname(file).slice(1)}`;
    for (let i = 2; taken.has(id); i++) id = `${safeStem(file)}_${i}`;
    taken.add(id);
    sourceIds.set(file, id);
  }
  // Named splits are checked before any work (the same check as at the end).
  if (options.splits) assignSplits([...sourceIds.values()].map((sourceId) => ({ id: sourceId, path: sourceId, sourceId })), options.splits);

  const progress = (phase: CorpusProgress['phase'], phaseStart: number) => {
    let done = 0;
    let phaseReused = 0;
    let phaseBuilt = 0;
    return (total: number, item: string, wasReused: boolean) => {
      done += 1;
      if (wasReused) phaseReused += 1;
      else phaseBuilt += 1;
      const elapsedMs = Date.now() - phaseStart;
      const etaMs = phaseBuilt > 0 ? (elapsedMs / phaseBuilt) * (total - done) : undefined;
      options.onProgress?.({ phase, done, total, reused: phaseReused, item, elapsedMs, ...(etaMs !== undefined ? { etaMs } : {}) });
    };
  };

  // Phase 1: probe and cut every source into segments.
  const segmentEntries = new Map<string, ManifestEntry>();
  const rebuiltSegments = new Set<string>();
  const segmentTick = progress('segment', Date.now());
  const segmentTasks = sourceFiles.map((file) => async () => {
    const sourceId = sourceIds.get(file) as string;
    const mine: ManifestEntry[] = [];
    let anyBuilt = false;
    try {
      const info = await probe(file, { signal });
      if (!(info.duration > 0)) throw new DatasetError('E_CORPUS', `duration unknown or zero`);
      const count = Math.min(maxSegments, Math.max(1, Math.floor(info.duration / segmentSeconds + 1e-6)));
      const plans: SegmentPlan[] = Array.from({ length: count }, (_, i) => ({
        id: `${sourceId}-s${String(i).padStart(2, '0')}`,
        sourceId,
        sourceFile: file,
        start: i * segmentSeconds,
        duration: Math.min(segmentSeconds, info.duration),
      }));
      for (const plan of plans) {
        checkAbort();
        const recordPath = join(dirs.records, `${plan.id}.json`);
        const finalPath = join(dirs.segments, `${plan.id}.mp4`);
        const record = await readRecord(recordPath);
        if (
          record &&
          record.entry.segment?.start === plan.start &&
          record.entry.segment.duration === plan.duration &&
          existsSync(finalPath)
        ) {
          mine.push(record.entry);
          reused += 1;
          continue;
        }
        const tmp = join(dirs.work, `${plan.id}.mp4`);
        await cutSegment(file, { start: plan.start, duration: plan.duration, out: tmp, signal });
        const cut = await probe(tmp, { signal });
        if (!(cut.frameCount > 0)) throw new DatasetError('E_CORPUS', `segment ${plan.id} has no frames`);
        await rename(tmp, finalPath);
        const entry: ManifestEntry = {
          id: plan.id,
          path: toPosix(relative(out, finalPath)),
          sourceId,
          referenceId: plan.id,
          dataset: 'vqlm-corpus',
          variant: { level: 0, recipe: { kind: 'original' } },
          segment: { start: plan.start, duration: plan.duration },
        };
        await writeFileAtomic(recordPath, `${JSON.stringify({ entry })}\n`);
        rebuiltSegments.add(plan.id);
        built += 1;
        anyBuilt = true;
        mine.push(entry);
      }
      for (const e of mine) segmentEntries.set(e.id, e);
      segmentTick(sourceFiles.length, sourceId, !anyBuilt);
    } catch (err) {
      if (isAbort(err, signal)) throw abortError();
      skipped.push({ source: file, reason: reasonOf(err) });
      segmentTick(sourceFiles.length, sourceId, false);
    }
  });
  try {
    await runPool(segmentTasks, concurrency, signal);
    checkAbort();
  } catch (err) {
    await rm(dirs.work, { recursive: true, force: true });
    throw err;
  }

  // Phase 2: every ladder step of every segment.
  const segments = [...segmentEntries.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const variantEntries = new Map<string, ManifestEntry>();
  const variantTick = progress('variant', Date.now());
  const total = segments.length * ladder.length;
  const metrics: ('psnr' | 'ssim' | 'vmaf')[] = options.vmafModel ? ['psnr', 'ssim', 'vmaf'] : ['psnr', 'ssim'];
  const variantTasks = segments.flatMap((segment) =>
    ladder.map((recipe, i) => async () => {
      const id = variantId(segment.id, recipe);
      const recordPath = join(dirs.records, `${id}.json`);
      const segmentPath = join(out, segment.path);
      try {
        if (!rebuiltSegments.has(segment.id)) {
          const record = await readRecord(recordPath);
          if (record && sameRecipe(record.entry.variant?.recipe, recipe) && existsSync(join(out, record.entry.path))) {
            variantEntries.set(id, record.entry);
            reused += 1;
            variantTick(total, id, true);
            return;
          }
        }
        checkAbort();
        const t0 = Date.now();
        const work = join(dirs.work, id);
        const [variant] = await makeVariants(segmentPath, {
          outDir: work,
          ladder: [steps[i]],
          signal,
          ...(options.preset ? { preset: options.preset } : {}),
        });
        if (!variant) throw new DatasetError('E_CORPUS', `no variant written for ${id}`);
        const t1 = Date.now();
        const scores = await fullReference(variant.path, segmentPath, {
          metrics,
          signal,
          ...(options.vmafModel ? { vmafModel: options.vmafModel } : {}),
        });
        const t2 = Date.now();
        const finalPath = join(dirs.variants, `${id}${extname(variant.path)}`);
        await rename(variant.path, finalPath);
        await rm(work, { recursive: true, force: true });
        const fr: NonNullable<ManifestEntry['fullReference']> = {};
        if (scores.psnr) fr.psnr = scores.psnr.mean;
        if (scores.ssim) fr.ssim = scores.ssim.mean;
        if (scores.vmaf) fr.vmaf = scores.vmaf.mean;
        const entry: ManifestEntry = {
          id,
          path: toPosix(relative(out, finalPath)),
          sourceId: segment.sourceId,
          referenceId: segment.id,
          dataset: 'vqlm-corpus',
          variant: { level: i + 1, recipe: { ...recipe, ffmpegArgs: variant.recipe.ffmpegArgs } },
          fullReference: fr,
          ...(segment.segment ? { segment: segment.segment } : {}),
        };
        const timing: VariantTiming = { encodeMs: t1 - t0, metricsMs: t2 - t1, totalMs: Date.now() - t0 };
        await writeFileAtomic(recordPath, `${JSON.stringify({ entry, timing })}\n`);
        variantEntries.set(id, entry);
        built += 1;
        variantTick(total, id, false);
      } catch (err) {
        if (isAbort(err, signal)) throw abortError();
        failed.push({ id, reason: reasonOf(err) });
        variantTick(total, id, false);
      }
    }),
  );
  try {
    await runPool(variantTasks, concurrency, signal);
    checkAbort();
  } finally {
    await rm(dirs.work, { recursive: true, force: true });
  }

  // Manifest, descriptions, report.
  const ordered: ManifestEntry[] = [];
  for (const segment of segments) {
    ordered.push(segment);
    for (const recipe of ladder) {
      const v = variantEntries.get(variantId(segment.id, recipe));
      if (v) ordered.push(v);
    }
  }
  const variantsOnly = ordered.filter((e) => (e.variant?.level ?? 0) > 0);
  const pseudoMosMethod = variantsOnly.length > 0 && variantsOnly.every((e) => e.fullReference?.vmaf !== undefined) ? 'vmaf-anchored' : 'order-only';
  const mos = assignPseudoMos(ordered, { method: pseudoMosMethod });
  const scored = options.splits ? assignSplits(mos, options.splits) : splitBySource(mos, { seed: options.splitSeed ?? 0 });
  const store = new DescriptionStore();
  const fileOf = new Map([...sourceIds].map(([file, id]) => [id, file]));
  const entries = scored.map((e) => {
    const file = fileOf.get(e.sourceId);
    const label = options.sourceLabels?.[file ? basename(file) : ''] ?? options.sourceLabels?.[e.sourceId] ?? {};
    const text = describeVariant({
      ...label,
      ...(e.variant ? { recipe: e.variant.recipe } : {}),
      ...(e.fullReference ? { fullReference: e.fullReference } : {}),
      ...(e.pseudoMos?.value !== undefined ? { mos: e.pseudoMos.value } : {}),
    });
    store.set({ id: e.id, text, origin: 'generated' });
    return { ...e, description: text };
  });
  const manifestPath = join(out, 'manifest.jsonl');
  const manifestCsvPath = join(out, 'manifest.csv');
  const descriptionsPath = join(out, 'descriptions.jsonl');
  const reportPath = join(out, 'report.json');
  await writeManifestJsonl(manifestPath, entries);
  await writeManifestCsv(manifestCsvPath, entries);
  await store.save(descriptionsPath);
  const result: CorpusResult = {
    out,
    manifestPath,
    manifestCsvPath,
    descriptionsPath,
    reportPath,
    entries,
    sources: sourceFiles.length - skipped.length,
    segments: segments.length,
    variants: variantsOnly.length,
    built,
    reused,
    skipped,
    failed,
    pseudoMosMethod,
    wallMs: Date.now() - started,
  };
  const { entries: _entries, ...report } = result;
  await writeFileAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  return result;
}

/** Reads the timing of every variant record under `out/records/` (for benchmarks). */
export async function readVariantTimings(out: string): Promise<{ id: string; timing: VariantTiming }[]> {
  const dir = join(resolve(out), 'records');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  const result: { id: string; timing: VariantTiming }[] = [];
  for (const name of names) {
    const record = await readRecord(join(dir, name));
    if (record?.timing) result.push({ id: record.entry.id, timing: record.timing });
  }
  return result;
}
