import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { posix, resolve, sep } from 'node:path';
import { DatasetError, lineError } from '../errors.js';
import type { ManifestEntry } from '../manifest.js';
import { getMosScale, normalizeMos } from '../mos-scale.js';
import type { LabelLoader } from './label-loader.js';

/** A labelled row whose video file is not under the video root. */
export interface MissingVideo {
  readonly id: string;
  readonly path: string;
  readonly line: number;
}

/** What {@link loadLabels} returns. */
export interface LabelSet {
  readonly loader: string;
  readonly file: string;
  /** Rows as manifest entries (`mos.value` on 1–5, `mos.original` on `mos.scale`). Missing videos are left out. */
  readonly entries: ManifestEntry[];
  /** Rows whose video is missing under `videoRoot` (only checked when it is given). */
  readonly missing: MissingVideo[];
}

/** Options of {@link loadLabels}. */
export interface LoadLabelsOptions {
  /** Directory the label paths are relative to; when given, missing videos are reported. */
  readonly videoRoot?: string;
  /** Keep rows whose video is missing in `entries` as well (default false). */
  readonly keepMissing?: boolean;
}

function safeRelative(path: string, file: string, line: number): string {
  const p = path.replace(/\\/g, '/');
  const normal = posix.normalize(p);
  if (posix.isAbsolute(p) || /^[A-Za-z]:/.test(p) || normal === '..' || normal.startsWith('../')) {
    throw lineError('E_LABEL_PATH', file, line, `path '${path}' escapes the dataset root`);
  }
  return normal;
}

/**
 * Parses label text with `loader`: validates every row (number, scale,
 * duplicate id, path inside the dataset root), normalises MOS onto 1–5 and
 * keeps the original. Throws `DatasetError` naming `file` and the line.
 */
export function parseLabels(loader: LabelLoader, text: string, file: string): ManifestEntry[] {
  return parseLabelRows(loader, text, file).map((r) => r.entry);
}

function parseLabelRows(loader: LabelLoader, text: string, file: string): { entry: ManifestEntry; line: number }[] {
  getMosScale(loader.scale);
  const rows = loader.format.parse(text, file);
  const seen = new Map<string, number>();
  return rows.map((row) => {
    const first = seen.get(row.id);
    if (first !== undefined) {
      throw lineError('E_LABEL_DUPLICATE', file, row.line, `duplicate id '${row.id}' (first on line ${first})`);
    }
    seen.set(row.id, row.line);
    const path = safeRelative(row.path, file, row.line);
    const scale = row.scale ?? loader.scale;
    let value: number;
    try {
      value = normalizeMos(row.mos, scale);
    } catch (err) {
      if (err instanceof DatasetError) throw lineError(err.code, file, row.line, err.message);
      throw err;
    }
    const entry: ManifestEntry = {
      id: row.id,
      path,
      sourceId: row.sourceId,
      dataset: loader.id,
      mos: { value, original: row.mos, scale },
    };
    return { entry, line: row.line };
  });
}

/**
 * Loads a label file with `loader` (see {@link parseLabels}). With
 * `videoRoot`, rows whose video is absent are reported in `missing` and
 * left out of `entries` rather than failing the load.
 *
 * @example
 * const set = await loadLabels(registry.get('konvid-1k'), 'KONVID_1K_metadata.csv', { videoRoot: '/data/konvid' });
 */
export async function loadLabels(loader: LabelLoader, file: string, options: LoadLabelsOptions = {}): Promise<LabelSet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DatasetError('E_ARGUMENT', `file: cannot read label file '${file}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: err,
    });
  }
  const rows = parseLabelRows(loader, text, file);
  if (options.videoRoot === undefined) return { loader: loader.id, file, entries: rows.map((r) => r.entry), missing: [] };
  const root = resolve(options.videoRoot);
  const entries: ManifestEntry[] = [];
  const missing: MissingVideo[] = [];
  for (const { entry, line } of rows) {
    const full = resolve(root, entry.path);
    if (full !== root && !full.startsWith(root + sep)) {
      throw lineError('E_LABEL_PATH', file, line, `path '${entry.path}' escapes the dataset root`);
    }
    if (existsSync(full)) entries.push(entry);
    else {
      missing.push({ id: entry.id, path: entry.path, line });
      if (options.keepMissing) entries.push(entry);
    }
  }
  return { loader: loader.id, file, entries, missing };
}
