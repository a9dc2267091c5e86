import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { isDistortedVariant, readManifest } from '@vqlm/datasets';
import { flipRateByDiff, type FlipBucket } from '@vqlm/metrics';
import { CliError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { flipSamples, formatFlipLines, levelDiffs, reportFailure, scoreEntries, type FailedEntry, type FlipUnit, type ScoredEntry } from '../flips.js';
import { openScorer, withModelOptions, type ModelFlags, resolveModel } from '../model.js';
import { printJson } from '../output.js';
import { readScores } from './metrics.js';

interface FlipRateFlags extends ModelFlags {
  manifest?: string;
  scores?: string;
  diffs?: string;
  json?: boolean;
}

/** Report of `vqlm flip-rate` (the `--json` object). */
export interface FlipRateReport {
  readonly manifest: string;
  /** Where the scores came from: the model bundle scored, or the `--scores` file. */
  readonly source: { readonly kind: 'model'; readonly model: string } | { readonly kind: 'scores'; readonly file: string };
  readonly entries: number;
  /** Entries with a `variant` (the only ones scored). */
  readonly variants: number;
  readonly scored: number;
  readonly failed: FailedEntry[];
  /** `crf` when every variant has a CRF, else `level` (the ladder position). */
  readonly flipUnit: FlipUnit;
  /** One bucket per level difference: those of `--diffs`, else every difference that occurs. */
  readonly byDiff: FlipBucket[];
  /** All ordered pairs (every difference): flips / pairs, rate null when there is no pair. */
  readonly overall: { readonly pairs: number; readonly flips: number; readonly rate: number | null };
}

/** Parses `--diffs 2,4,10`: positive numbers. */
export function parseDiffs(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const diffs = parts.map(Number);
  const bad = parts.findIndex((p, i) => p === '' || !Number.isFinite(diffs[i]) || (diffs[i] ?? 0) <= 0);
  if (bad >= 0) throw new CliError(`--diffs: '${parts[bad] ?? ''}' is not a positive number (expected e.g. 2,4,10)`, 'E_ARGS');
  return diffs;
}

/**
 * Reads precomputed scores keyed by manifest id: CSV with a header holding
 * `id` and `score` (as `vqlm metrics --pred`), or JSON lines
 * `{"id": ..., "score": ...}` when the name ends in `.jsonl` / `.ndjson`.
 */
export async function readScoreFile(file: string): Promise<Map<string, number>> {
  if (!/\.(jsonl|ndjson)$/i.test(file)) return new Map((await readScores(file, ['score'])).map((r) => [r.id, r.value]));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new CliError(`${file}: cannot read the file (${typeof code === 'string' ? code : String(err)})`, 'E_IO');
  }
  const out = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const at = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new CliError(`${at}: not valid JSON (${(err as Error).message})`, 'E_JSONL');
    }
    const { id, score } = (value ?? {}) as { id?: unknown; score?: unknown };
    if (typeof id !== 'string' || id === '') throw new CliError(`${at}: expected {"id": "<manifest id>", "score": <number>}; id is ${JSON.stringify(id)}`, 'E_JSONL');
    if (typeof score !== 'number' || !Number.isFinite(score)) throw new CliError(`${at}: bad score ${JSON.stringify(score)} for id '${id}' (not a finite number)`, 'E_JSONL');
    if (out.has(id)) throw new CliError(`${at}: duplicate id '${id}'`, 'E_JSONL');
    out.set(id, score);
  });
  if (out.size === 0) throw new CliError(`${file}: no scores (expected JSON lines {"id": ..., "score": ...})`, 'E_JSONL');
  return out;
}

/** Flip rates of scored variants: per difference (`diffs`, default every one that occurs) and overall. */
export function flipReport(scored: readonly ScoredEntry[], diffs: readonly number[] | undefined): Pick<FlipRateReport, 'flipUnit' | 'byDiff' | 'overall'> {
  const { unit, samples } = flipSamples(scored);
  const occurring = levelDiffs(samples);
  const all = occurring.length > 0 ? flipRateByDiff(samples, occurring) : [];
  const pairs = all.reduce((n, b) => n + b.pairs, 0);
  const flips = all.reduce((n, b) => n + b.flips, 0);
  return {
    flipUnit: unit,
    byDiff: diffs === undefined ? all : flipRateByDiff(samples, diffs),
    overall: { pairs, flips, rate: pairs === 0 ? null : flips / pairs },
  };
}

function formatReport(report: FlipRateReport): string {
  const from = report.source.kind === 'model' ? `model ${report.source.model}` : `scores from ${report.source.file}`;
  const lines = [`scored ${report.scored} of ${report.variants} variants (${report.entries} entries) of ${report.manifest} with ${from}`];
  lines.push(...formatFlipLines(report.flipUnit, report.byDiff));
  const o = report.overall;
  lines.push(`overall: ${o.rate === null ? '–' : o.rate.toFixed(4)} (${o.flips}/${o.pairs} pairs)`);
  return lines.join('\n');
}

/** `vqlm flip-rate --manifest <file> [--model <bundle> | --scores <file>]`: flip rate of a manifest's ladders by level difference. */
export const flipRateCommand: CommandModule = {
  name: 'flip-rate',
  register(program: Command): void {
    withModelOptions(
      program
        .command('flip-rate')
        .description('score every variant of a manifest and print the flip rate (worse variant scored higher) by CRF or level difference, and overall')
    )
      .option('--manifest <file>', 'manifest (JSONL, or CSV by extension); paths relative to its folder')
      .option('--scores <file>', 'precomputed scores instead of a model: CSV id,score or JSON lines {"id","score"} (.jsonl), ids of the manifest')
      .option('--diffs <list>', 'level differences to report, e.g. 2,4,10 (default: every difference that occurs)')
      .option('--json', 'one JSON object with the whole report')
      .action(async (flags: FlipRateFlags) => {
        if (!flags.manifest) throw new CliError('--manifest <file> is required', 'E_NO_MANIFEST');
        if (flags.scores !== undefined && flags.model !== undefined) throw new CliError('--scores and --model exclude each other: give precomputed scores or a model to score with', 'E_ARGS');
        const diffs = flags.diffs === undefined ? undefined : parseDiffs(flags.diffs);
        const entries = await readManifest(flags.manifest);
        const variants = entries.filter(isDistortedVariant);
        let scored: ScoredEntry[];
        let failed: FailedEntry[];
        let source: FlipRateReport['source'];
        if (flags.scores !== undefined) {
          const scores = await readScoreFile(flags.scores);
          source = { kind: 'scores', file: flags.scores };
          scored = [];
          failed = [];
          for (const entry of variants) {
            const score = scores.get(entry.id);
            if (score === undefined) failed.push(reportFailure(entry, new CliError(`no score in ${flags.scores}`, 'E_MISSING_ID')));
            else scored.push({ entry, score });
          }
        } else {
          const model = await resolveModel(flags.model);
          source = { kind: 'model', model };
          const scorer = await openScorer(model, flags.engine);
          try {
            ({ scored, failed } = await scoreEntries(scorer, variants, dirname(resolve(flags.manifest)), 'flip-rate'));
          } finally {
            await scorer.dispose();
          }
        }
        const report: FlipRateReport = { manifest: flags.manifest, source, entries: entries.length, variants: variants.length, scored: scored.length, failed, ...flipReport(scored, diffs) };
        if (flags.json) printJson(report);
        else process.stdout.write(`${formatReport(report)}\n`);
        if (failed.length > 0) throw new CliError(`${failed.length} of ${variants.length} variants failed`, 'E_FLIP_FAILED');
      });
  },
};
