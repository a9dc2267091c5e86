import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { readManifest } from '@vqlm/datasets';
import { flipRateByDiff, summary, type FlipBucket, type MetricSummary } from '@vqlm/metrics';
import { CliError, formatError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { flipSamples, formatFlipLines, levelDiffs, scoreEntries, type FailedEntry, type FlipUnit, type ScoredEntry } from '../flips.js';
import { openScorer, withModelOptions, type ModelFlags } from '../model.js';
import { printJson } from '../output.js';

interface EvalFlags extends ModelFlags {
  manifest?: string;
  json?: boolean;
}

/** Which ground truth the correlations were computed against. */
type Target = 'mos' | 'pseudo-mos' | 'mixed' | 'none';

/** Report of `vqlm eval` (the `--json` object). */
export interface EvalReport {
  readonly manifest: string;
  readonly entries: number;
  readonly scored: number;
  readonly failed: FailedEntry[];
  /** `mos` when every scored entry has a human MOS, `pseudo-mos` when none has, `mixed` otherwise. */
  readonly target: Target;
  readonly withMos: number;
  readonly withPseudoMos: number;
  /** SRCC/PLCC/KRCC/RMSE against the target; null with `summaryError` when it cannot be computed. */
  readonly summary: MetricSummary | null;
  readonly summaryError?: string;
  /** `crf` when every ladder entry has a CRF, else `level` (the ladder position). */
  readonly flipUnit: FlipUnit;
  readonly flipRate: FlipBucket[];
}

function formatReport(report: EvalReport): string {
  const lines = [`scored ${report.scored} of ${report.entries} entries of ${report.manifest}`];
  const target =
    report.target === 'mos'
      ? 'MOS'
      : report.target === 'pseudo-mos'
        ? 'pseudo-MOS (no entry has a MOS)'
        : report.target === 'mixed'
          ? `MOS where present (${report.withMos}), else pseudo-MOS (${report.withPseudoMos})`
          : 'none (no entry has a MOS or pseudo-MOS)';
  lines.push(`target: ${target}`);
  const s = report.summary;
  if (s) lines.push(`n ${s.n}  SRCC ${s.srcc.toFixed(4)}  PLCC ${s.plcc.toFixed(4)}  KRCC ${s.krcc.toFixed(4)}  RMSE ${s.rmse.toFixed(4)}`);
  else if (report.summaryError) lines.push(`correlations: not computed (${report.summaryError})`);
  lines.push(...formatFlipLines(report.flipUnit, report.flipRate));
  return lines.join('\n');
}

/** `vqlm eval --manifest <file> --model <bundle>`: scores a manifest and reports correlations and flip rates. */
export const evalCommand: CommandModule = {
  name: 'eval',
  register(program: Command): void {
    withModelOptions(
      program
        .command('eval')
        .description('score every entry of a manifest; SRCC/PLCC/KRCC/RMSE against MOS (or pseudo-MOS) and flip rate by level difference')
    )
      .option('--manifest <file>', 'manifest (JSONL, or CSV by extension); paths relative to its folder')
      .option('--json', 'one JSON object with the whole report')
      .action(async (flags: EvalFlags) => {
        if (!flags.manifest) throw new CliError('--manifest <file> is required', 'E_NO_MANIFEST');
        const entries = await readManifest(flags.manifest);
        const root = dirname(resolve(flags.manifest));
        const scorer = await openScorer(flags.model, flags.engine);
        let scored: ScoredEntry[];
        let failed: FailedEntry[];
        try {
          ({ scored, failed } = await scoreEntries(scorer, entries, root, 'eval'));
        } finally {
          await scorer.dispose();
        }

        const withTarget = scored.flatMap((s) => {
          const value = s.entry.mos?.value ?? s.entry.pseudoMos?.value;
          return value === undefined ? [] : [{ pred: s.score, target: value, mos: s.entry.mos !== undefined }];
        });
        const withMos = withTarget.filter((t) => t.mos).length;
        const withPseudoMos = withTarget.length - withMos;
        const target: Target = withTarget.length === 0 ? 'none' : withPseudoMos === 0 ? 'mos' : withMos === 0 ? 'pseudo-mos' : 'mixed';
        let result: MetricSummary | null = null;
        let summaryError: string | undefined;
        try {
          result = summary(
            withTarget.map((t) => t.pred),
            withTarget.map((t) => t.target),
          );
        } catch (err) {
          summaryError = formatError(err);
        }
        const { unit, samples } = flipSamples(scored);
        const diffs = levelDiffs(samples);
        const report: EvalReport = {
          manifest: flags.manifest,
          entries: entries.length,
          scored: scored.length,
          failed,
          target,
          withMos,
          withPseudoMos,
          summary: result,
          ...(summaryError === undefined ? {} : { summaryError }),
          flipUnit: unit,
          flipRate: diffs.length > 0 ? flipRateByDiff(samples, diffs) : [],
        };
        if (flags.json) printJson(report);
        else process.stdout.write(`${formatReport(report)}\n`);
        if (failed.length > 0) throw new CliError(`${failed.length} of ${entries.length} entries failed`, 'E_EVAL_FAILED');
      });
  },
};
