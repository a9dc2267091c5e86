import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { FIT_KINDS, MetricError, summary, type FitKind } from '@vqlm/metrics';
import { CliError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';

/** One `id,value` row of a scores file, with the line it came from. */
interface ScoreRow {
  readonly id: string;
  readonly value: number;
  readonly line: number;
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

function fail(file: string, line: number | undefined, message: string, code = 'E_CSV'): never {
  throw new CliError(`${file}${line === undefined ? '' : `:${line}`}: ${message}`, code);
}

/**
 * Reads a CSV with a header holding `id` and one of `valueColumns` (the
 * first one present wins). Rows are keyed by id; every problem names the
 * file and the line.
 */
export async function readScores(
  file: string,
  valueColumns: readonly string[],
): Promise<ScoreRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return fail(
      file,
      undefined,
      `cannot read the file (${typeof code === 'string' ? code : String(err)})`,
      'E_IO',
    );
  }
  if (text.replace(/^\uFEFF/, '').trim() === '')
    fail(file, 1, `empty file (expected a header: id,${valueColumns[0]})`);

  let records: ParsedRecord[];
  try {
    records = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
    }) as unknown as ParsedRecord[];
  } catch (err) {
    const lines = (err as { lines?: unknown }).lines;
    return fail(
      file,
      typeof lines === 'number' ? lines : undefined,
      (err as Error).message.split('\n')[0] ?? 'invalid CSV',
    );
  }
  const [header, ...rows] = records;
  const columns = header.record.map((c) => c.toLowerCase());
  const idIndex = columns.indexOf('id');
  const valueColumn = valueColumns.find((c) => columns.includes(c));
  if (idIndex < 0 || valueColumn === undefined) {
    const missing = idIndex < 0 ? 'id' : valueColumns.join("' or '");
    fail(
      file,
      header.info.lines,
      `missing column '${missing}' (header: ${header.record.join(',')})`,
    );
  }
  const valueIndex = columns.indexOf(valueColumn);
  if (rows.length === 0) fail(file, header.info.lines, 'no data rows after the header');

  const seen = new Map<string, number>();
  return rows.map(({ record, info }) => {
    const line = info.lines;
    const id = record[idIndex] ?? '';
    if (id === '') fail(file, line, 'empty id');
    const first = seen.get(id);
    if (first !== undefined) fail(file, line, `duplicate id '${id}' (first on line ${first})`);
    seen.set(id, line);
    const raw = record[valueIndex] ?? '';
    const value = raw === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(value))
      fail(file, line, `bad ${valueColumn} '${raw}' for id '${id}' (not a finite number)`);
    return { id, value, line };
  });
}

/**
 * Joins predictions and ground truth on id; every id must be in both files.
 * Returns the paired values in ground-truth order.
 */
export function joinOnId(
  pred: readonly ScoreRow[],
  gt: readonly ScoreRow[],
  predFile: string,
  gtFile: string,
): { pred: number[]; mos: number[] } {
  const byId = new Map(pred.map((row) => [row.id, row]));
  const gtIds = new Set(gt.map((row) => row.id));
  for (const row of gt) {
    if (!byId.has(row.id))
      fail(gtFile, row.line, `id '${row.id}' has no prediction in ${predFile}`, 'E_MISSING_ID');
  }
  for (const row of pred) {
    if (!gtIds.has(row.id))
      fail(predFile, row.line, `id '${row.id}' has no ground truth in ${gtFile}`, 'E_MISSING_ID');
  }
  return { pred: gt.map((row) => byId.get(row.id)!.value), mos: gt.map((row) => row.value) };
}

const LABELS = {
  none: '',
  logistic4: ' (after 4-parameter logistic fit)',
  logistic5: ' (after 5-parameter logistic fit)',
};

/** `vqlm metrics --pred <csv> --gt <csv>`: SRCC, PLCC, KRCC and RMSE of predictions. */
export const metricsCommand: CommandModule = {
  name: 'metrics',
  register(program: Command): void {
    program
      .command('metrics')
      .description(
        'SRCC, PLCC, KRCC and RMSE of predicted scores against ground-truth MOS (CSV files joined on id)',
      )
      .requiredOption('--pred <csv>', 'predictions: CSV with a header and columns id,score')
      .requiredOption(
        '--gt <csv>',
        'ground truth: CSV with a header and columns id,mos (or id,score)',
      )
      .addOption(
        new Option(
          '--fit <kind>',
          'mapping of the predictions before PLCC and RMSE (VQEG logistic fits)',
        )
          .choices(FIT_KINDS)
          .default('none'),
      )
      .option('--json', 'print {"n","srcc","plcc","krcc","rmse"} as one line of JSON')
      .addHelpText(
        'after',
        '\nExample:\n  vqlm metrics --pred examples/metrics/pred.csv --gt examples/metrics/gt.csv --fit logistic4',
      )
      .action(async (flags: { pred: string; gt: string; fit: FitKind; json?: boolean }) => {
        const [pred, gt] = await Promise.all([
          readScores(flags.pred, ['score']),
          readScores(flags.gt, ['mos', 'score']),
        ]);
        const joined = joinOnId(pred, gt, flags.pred, flags.gt);
        let result;
        try {
          result = summary(joined.pred, joined.mos, { fit: flags.fit });
        } catch (err) {
          if (err instanceof MetricError)
            throw new CliError(`${flags.pred} vs ${flags.gt}: ${err.message}`, err.code);
          throw err;
        }
        if (flags.json) {
          printJson(result);
          return;
        }
        const label = LABELS[flags.fit];
        process.stdout.write(
          [
            `n     ${result.n}`,
            `srcc  ${result.srcc.toFixed(4)}`,
            `plcc  ${result.plcc.toFixed(4)}${label}`,
            `krcc  ${result.krcc.toFixed(4)}`,
            `rmse  ${result.rmse.toFixed(4)}${label}`,
          ].join('\n') + '\n',
        );
      });
  },
};
