import { readFile } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { DatasetError, lineError } from './errors.js';

/** Kinds of variant recipe; `original` is the untouched source (segment). */
export const recipeKinds = ['original', 'h264', 'vp9', 'blur', 'noise', 'scale'] as const;

/** How a variant was made from its source. */
export const variantRecipeSchema = z
  .object({
    kind: z.enum(recipeKinds),
    crf: z.number().int().min(0).max(63).optional(),
    sigma: z.number().positive().optional(),
    strength: z.number().positive().optional(),
    factor: z.number().positive().optional(),
    /** Exact ffmpeg arguments between input and output (from `@vqlm/video-io`), for reproduction. */
    ffmpegArgs: z.array(z.string()).optional(),
  })
  .strict();

/** A manifest row: one video with whatever is known about it. */
export const manifestEntrySchema = z
  .object({
    /** Unique id within the manifest. */
    id: z.string().min(1),
    /** Video path, relative to the manifest's root (or absolute). */
    path: z.string().min(1),
    /** The source the video comes from: splits never separate one source. */
    sourceId: z.string().min(1),
    /**
     * Id of the entry (level 0) this variant was made from and scored
     * against; the level-0 entry names itself. Ladders (pairs, pseudo-MOS)
     * are grouped by `referenceId ?? sourceId`, so a clip cut into several
     * segments keeps one `sourceId` for splits and one ladder per segment.
     */
    referenceId: z.string().min(1).optional(),
    /** Dataset the entry comes from, e.g. `lsvq-train`, `vqlm-corpus`. */
    dataset: z.string().min(1).optional(),
    split: z.enum(['train', 'val', 'test']).optional(),
    /** Human MOS: `value` on vqlm's 1–5 scale, `original` on `scale`. */
    mos: z
      .object({ value: z.number().min(1).max(5), original: z.number(), scale: z.string().min(1) })
      .strict()
      .optional(),
    /** Ladder position: 0 is the source itself, higher is a stronger distortion. */
    variant: z
      .object({ level: z.number().int().min(0), recipe: variantRecipeSchema })
      .strict()
      .optional(),
    /**
     * Pseudo-MOS of a variant (1–5): `vmaf-anchored` maps full-reference VMAF
     * onto the source's MOS (see `pseudoMosFromVmaf`); `order-only` carries
     * no value, only the ladder order.
     */
    pseudoMos: z
      .object({
        method: z.enum(['vmaf-anchored', 'order-only']),
        value: z.number().min(1).max(5).optional(),
        anchor: z.number().min(1).max(5).optional(),
      })
      .strict()
      .optional(),
    /** Full-reference scores against the source (means over frames). */
    fullReference: z
      .object({ psnr: z.number().optional(), ssim: z.number().optional(), vmaf: z.number().optional() })
      .strict()
      .optional(),
    /** Segment of the original clip this video was cut from, in seconds. */
    segment: z.object({ start: z.number().min(0), duration: z.number().positive() }).strict().optional(),
    description: z.string().optional(),
  })
  .strict();

/** One manifest row (see {@link manifestEntrySchema}). */
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
/** The key ladders are grouped by: `referenceId ?? sourceId`. */
export function ladderKey(entry: ManifestEntry): string {
  return entry.referenceId ?? entry.sourceId;
}

/** How a variant was made (see {@link variantRecipeSchema}). */
export type VariantRecipe = z.infer<typeof variantRecipeSchema>;

function formatZodIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ');
}

/**
 * Validates entries (schema and unique ids); throws `E_MANIFEST` naming the
 * file and the 1-based row.
 */
export function validateManifest(entries: readonly unknown[], file = '<manifest>'): ManifestEntry[] {
  const seen = new Set<string>();
  return entries.map((raw, i) => {
    const parsed = manifestEntrySchema.safeParse(raw);
    if (!parsed.success) throw lineError('E_MANIFEST', file, i + 1, formatZodIssues(parsed.error));
    if (seen.has(parsed.data.id)) throw lineError('E_MANIFEST', file, i + 1, `duplicate id '${parsed.data.id}'`);
    seen.add(parsed.data.id);
    return parsed.data;
  });
}

/** Parses JSONL text (one entry per line; blank lines ignored). */
export function parseManifestJsonl(text: string, file = '<manifest>'): ManifestEntry[] {
  const seen = new Set<string>();
  const out: ManifestEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw lineError('E_MANIFEST', file, i + 1, `invalid JSON (${(err as Error).message})`);
    }
    const parsed = manifestEntrySchema.safeParse(raw);
    if (!parsed.success) throw lineError('E_MANIFEST', file, i + 1, formatZodIssues(parsed.error));
    if (seen.has(parsed.data.id)) throw lineError('E_MANIFEST', file, i + 1, `duplicate id '${parsed.data.id}'`);
    seen.add(parsed.data.id);
    out.push(parsed.data);
  }
  return out;
}

/** Serialises entries as JSONL (validated first). */
export function formatManifestJsonl(entries: readonly ManifestEntry[]): string {
  const valid = validateManifest(entries);
  return valid.map((e) => JSON.stringify(e)).join('\n') + (valid.length > 0 ? '\n' : '');
}

/** Reads a JSONL manifest file. */
export async function readManifestJsonl(path: string): Promise<ManifestEntry[]> {
  return parseManifestJsonl(await readFile(path, 'utf8'), path);
}

/** Writes a JSONL manifest atomically (temp file + rename). */
export async function writeManifestJsonl(path: string, entries: readonly ManifestEntry[]): Promise<void> {
  await writeFileAtomic(path, formatManifestJsonl(entries));
}

/**
 * Columns of the CSV form of a manifest, in order. Nested fields are
 * flattened: `mos`, `mos_original`, `mos_scale`, `level`, `recipe`, `crf`, …
 */
export const manifestCsvColumns = [
  'id',
  'path',
  'source_id',
  'reference_id',
  'dataset',
  'split',
  'mos',
  'mos_original',
  'mos_scale',
  'level',
  'recipe',
  'crf',
  'sigma',
  'strength',
  'factor',
  'ffmpeg_args',
  'pseudo_mos',
  'pseudo_mos_method',
  'pseudo_mos_anchor',
  'psnr',
  'ssim',
  'vmaf',
  'segment_start',
  'segment_duration',
  'description',
] as const;

type CsvRow = Record<(typeof manifestCsvColumns)[number], string>;

function toCell(v: number | string | undefined): string {
  return v === undefined ? '' : String(v);
}

function entryToRow(e: ManifestEntry): CsvRow {
  const r = e.variant?.recipe;
  return {
    id: e.id,
    path: e.path,
    source_id: e.sourceId,
    reference_id: toCell(e.referenceId),
    dataset: toCell(e.dataset),
    split: toCell(e.split),
    mos: toCell(e.mos?.value),
    mos_original: toCell(e.mos?.original),
    mos_scale: toCell(e.mos?.scale),
    level: toCell(e.variant?.level),
    recipe: toCell(r?.kind),
    crf: toCell(r?.crf),
    sigma: toCell(r?.sigma),
    strength: toCell(r?.strength),
    factor: toCell(r?.factor),
    ffmpeg_args: r?.ffmpegArgs ? JSON.stringify(r.ffmpegArgs) : '',
    pseudo_mos: toCell(e.pseudoMos?.value),
    pseudo_mos_method: toCell(e.pseudoMos?.method),
    pseudo_mos_anchor: toCell(e.pseudoMos?.anchor),
    psnr: toCell(e.fullReference?.psnr),
    ssim: toCell(e.fullReference?.ssim),
    vmaf: toCell(e.fullReference?.vmaf),
    segment_start: toCell(e.segment?.start),
    segment_duration: toCell(e.segment?.duration),
    description: toCell(e.description),
  };
}

function num(row: CsvRow, key: keyof CsvRow, file: string, line: number): number | undefined {
  const cell = row[key];
  if (cell === undefined || cell === '') return undefined;
  const v = Number(cell);
  if (!Number.isFinite(v)) throw lineError('E_MANIFEST', file, line, `column ${key}: '${cell}' is not a number`);
  return v;
}

function jsonCell(row: CsvRow, key: keyof CsvRow, file: string, line: number): unknown {
  const cell = row[key];
  if (cell === undefined || cell === '') return undefined;
  try {
    return JSON.parse(cell) as unknown;
  } catch {
    throw lineError('E_MANIFEST', file, line, `column ${key}: '${cell}' is not JSON`);
  }
}

function str(row: CsvRow, key: keyof CsvRow): string | undefined {
  const cell = row[key];
  return cell === undefined || cell === '' ? undefined : cell;
}

function compact<T extends object>(o: T): T | undefined {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined);
  return entries.length === 0 ? undefined : (Object.fromEntries(entries) as T);
}

function rowToEntry(row: CsvRow, file: string, line: number): unknown {
  const n = (k: keyof CsvRow) => num(row, k, file, line);
  const mosValue = n('mos');
  const recipeKind = str(row, 'recipe');
  const level = n('level');
  const pseudoMethod = str(row, 'pseudo_mos_method');
  const segStart = n('segment_start');
  const segDuration = n('segment_duration');
  return compact({
    id: row.id,
    path: row.path,
    sourceId: row.source_id,
    referenceId: str(row, 'reference_id'),
    dataset: str(row, 'dataset'),
    split: str(row, 'split'),
    mos:
      mosValue === undefined
        ? undefined
        : { value: mosValue, original: n('mos_original') ?? mosValue, scale: str(row, 'mos_scale') ?? '1-5' },
    variant:
      recipeKind === undefined && level === undefined
        ? undefined
        : {
            level,
            recipe: compact({
              kind: recipeKind,
              crf: n('crf'),
              sigma: n('sigma'),
              strength: n('strength'),
              factor: n('factor'),
              ffmpegArgs: jsonCell(row, 'ffmpeg_args', file, line),
            }),
          },
    pseudoMos:
      pseudoMethod === undefined
        ? undefined
        : compact({ method: pseudoMethod, value: n('pseudo_mos'), anchor: n('pseudo_mos_anchor') }),
    fullReference: compact({ psnr: n('psnr'), ssim: n('ssim'), vmaf: n('vmaf') }),
    segment: segStart === undefined && segDuration === undefined ? undefined : { start: segStart, duration: segDuration },
    description: str(row, 'description'),
  });
}

/** Serialises entries as CSV with the columns {@link manifestCsvColumns}. */
export function formatManifestCsv(entries: readonly ManifestEntry[]): string {
  const valid = validateManifest(entries);
  return stringifyCsv(valid.map(entryToRow), { header: true, columns: [...manifestCsvColumns] });
}

/** Parses the CSV form of a manifest; errors name the file and line. */
export function parseManifestCsv(text: string, file = '<manifest.csv>'): ManifestEntry[] {
  let records: { record: CsvRow; info: { lines: number } }[];
  try {
    const parsed: unknown = parseCsv(text, { columns: true, skip_empty_lines: true, info: true, trim: false });
    records = parsed as { record: CsvRow; info: { lines: number } }[];
  } catch (err) {
    throw new DatasetError('E_MANIFEST', `${file}: ${(err as Error).message}`);
  }
  const header = text.split(/\r?\n/, 1)[0]?.split(',') ?? [];
  for (const required of ['id', 'path', 'source_id'] as const) {
    if (!header.includes(required)) {
      throw lineError('E_MANIFEST', file, 1, `header lacks column '${required}' (got: ${header.join(',')})`);
    }
  }
  const seen = new Set<string>();
  return records.map(({ record, info }) => {
    const raw = rowToEntry(record, file, info.lines);
    const parsed = manifestEntrySchema.safeParse(raw);
    if (!parsed.success) throw lineError('E_MANIFEST', file, info.lines, formatZodIssues(parsed.error));
    if (seen.has(parsed.data.id)) throw lineError('E_MANIFEST', file, info.lines, `duplicate id '${parsed.data.id}'`);
    seen.add(parsed.data.id);
    return parsed.data;
  });
}

/** Reads a CSV manifest file. */
export async function readManifestCsv(path: string): Promise<ManifestEntry[]> {
  return parseManifestCsv(await readFile(path, 'utf8'), path);
}

/** Writes a CSV manifest atomically (temp file + rename). */
export async function writeManifestCsv(path: string, entries: readonly ManifestEntry[]): Promise<void> {
  await writeFileAtomic(path, formatManifestCsv(entries));
}

/** Reads a manifest, choosing JSONL or CSV by the file extension (`.csv` → CSV). */
export async function readManifest(path: string): Promise<ManifestEntry[]> {
  return path.toLowerCase().endsWith('.csv') ? readManifestCsv(path) : readManifestJsonl(path);
}
