import { parse as parseCsv } from 'csv-parse/sync';
import { DatasetError, lineError } from '../errors.js';
import type { LabelFormat, RawLabelRow } from './label-loader.js';

function parseNumber(cell: string, what: string, file: string, line: number): number {
  const trimmed = cell.trim();
  const v = trimmed === '' ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(v)) throw lineError('E_LABEL_NUMBER', file, line, `${what} '${trimmed}' is not a number`);
  return v;
}

function stripExtension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? path.slice(0, path.length - (base.length - dot)) : path;
}

/** Options of {@link doverLinesFormat}. */
export interface DoverLinesOptions {
  /** Id of a row from its path; default: the path without extension. */
  readonly idFromPath?: (path: string) => string;
  /** Source id from the row's id; default: the id itself. */
  readonly sourceFromId?: (id: string) => string;
}

/**
 * The line format DOVER / FAST-VQA distribute (`examplar_data_labels/`):
 * `path, duration|-1, fps|-1, MOS` per line, no header.
 */
export function doverLinesFormat(options: DoverLinesOptions = {}): LabelFormat {
  const idFromPath = options.idFromPath ?? stripExtension;
  const sourceFromId = options.sourceFromId ?? ((id: string) => id);
  return {
    id: 'dover-lines',
    parse(text, file) {
      const rows: RawLabelRow[] = [];
      const lines = text.split(/\r?\n/);
      for (let i = 0; i < lines.length; i++) {
        const lineNo = i + 1;
        const line = lines[i] ?? '';
        if (line.trim() === '') continue;
        const cells = line.split(',');
        if (cells.length !== 4) {
          throw lineError('E_LABEL_FORMAT', file, lineNo, `expected 4 fields 'path, duration, fps, MOS', got ${cells.length}`);
        }
        const [pathCell, durationCell, fpsCell, mosCell] = cells as [string, string, string, string];
        if (lineNo === 1 && !Number.isFinite(Number(mosCell.trim()))) {
          throw lineError('E_LABEL_HEADER', file, lineNo, `DOVER label lines have no header, got '${line.trim()}'`);
        }
        parseNumber(durationCell, 'duration', file, lineNo);
        parseNumber(fpsCell, 'fps', file, lineNo);
        const mos = parseNumber(mosCell, 'MOS', file, lineNo);
        const path = pathCell.trim();
        const id = idFromPath(path);
        rows.push({ line: lineNo, id, path, sourceId: sourceFromId(id), mos });
      }
      return rows;
    },
  };
}

/** Options of {@link csvLabelFormat}. */
export interface CsvLabelOptions {
  /** Column holding the video id or file name. */
  readonly idColumn: string;
  /** Column holding the MOS. */
  readonly mosColumn: string;
  /** Optional column naming each row's MOS scale. */
  readonly scaleColumn?: string;
  /** Video path from the id cell; default: the cell itself. */
  readonly pathFromId?: (id: string) => string;
  /** Row id from the id cell; default: the cell without extension. */
  readonly idFromCell?: (cell: string) => string;
}

/**
 * A CSV label file with a header row (VIDEVAL / GAMIVAL metadata CSVs and
 * vqlm's own `path,mos[,scale]` files). A missing column is a header error.
 */
export function csvLabelFormat(options: CsvLabelOptions): LabelFormat {
  const pathFromId = options.pathFromId ?? ((id: string) => id);
  const idFromCell = options.idFromCell ?? stripExtension;
  return {
    id: 'csv',
    parse(text, file) {
      let records: { record: Record<string, string>; info: { lines: number } }[];
      try {
        const parsed: unknown = parseCsv(text, {
          columns: (header: string[]) => {
            const names = header.map((h) => h.trim());
            for (const required of [options.idColumn, options.mosColumn]) {
              if (!names.includes(required)) {
                throw lineError('E_LABEL_HEADER', file, 1, `header lacks column '${required}' (got: ${names.join(',')})`);
              }
            }
            return names;
          },
          skip_empty_lines: true,
          info: true,
          bom: true,
          relax_column_count_less: true,
        });
        records = parsed as { record: Record<string, string>; info: { lines: number } }[];
      } catch (err) {
        if (err instanceof DatasetError) throw err;
        throw new DatasetError('E_LABEL_FORMAT', `${file}: ${(err as Error).message}`);
      }
      return records.map(({ record, info }) => {
        const cell = (record[options.idColumn] ?? '').trim();
        if (cell === '') throw lineError('E_LABEL_FORMAT', file, info.lines, `empty ${options.idColumn}`);
        const mos = parseNumber(record[options.mosColumn] ?? '', options.mosColumn, file, info.lines);
        const id = idFromCell(cell);
        const scaleCell = options.scaleColumn ? record[options.scaleColumn]?.trim() : undefined;
        return {
          line: info.lines,
          id,
          path: pathFromId(cell),
          sourceId: id,
          mos,
          ...(scaleCell ? { scale: scaleCell } : {}),
        };
      });
    },
  };
}
