import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { ladderKey, readManifest, type ManifestEntry } from '@vqlm/datasets';
import { flipRateByDiff, summary, type FlipBucket, type FlipSample, type MetricSummary } from '@vqlm/metrics';
import { CliError, formatError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { createProgress, printJson } from '../output.js';
import { openScorer } from './score.js';

interface EvalFlags {
  manifest?: string;
  model?: string;
  json?: boolean;
}

/** Which ground truth the correlations were computed against. */
type Target = 'mos' | 'pseudo-mos' | 'mixed' | 'none';

/** Report of `vqlm eval` (the `--json` object). */
export interface EvalReport {
  readonly manifest: string;
  readonly entries: number;
  readonly scored: number;
  readonly failed: { id: string; path: string; error: string }[];
  /** `mos` when every scored entry has a human MOS, `pseudo-mos` when none has, `mixed` otherwise. */
  readonly target: Target;
  readonly withMos: number;
  readonly withPseudoMos: number;
  /** SRCC/PLCC/KRCC/RMSE against the target; null with `summaryError` when it cannot be computed. */
  readonly summary: MetricSummary | null;
  readonly summaryError?: string;
  /** `crf` when every ladder entry has a CRF, else `level` (the ladder position). */
  readonly flipUnit: 'crf' | 'level';
  readonly flipRate: FlipBucket[];
}

/** The level a variant is compared by: CRF when the whole ladder has one, else the ladder level. */
function flipSamples(scored: { entry: ManifestEntry; score: number }[]): { unit: 'crf' | 'level'; samples: FlipSample[] } {
  const variants = scored.filter((s) => s.entry.variant !== undefined);
  const useCrf = variants.length > 0 && variants.every((s) => s.entry.variant?.recipe.crf !== undefined);
  const samples = variants.map((s) => ({
    sourceId: ladderKey(s.entry),
    level: useCrf ? (s.entry.variant?.recipe.crf ?? 0) : (s.entry.variant?.level ?? 0),
    score: s.score,
  }));
  // Only ladders with at least two variants give pairs.
  const counts = new Map<string | number, number>();
  for (const s of samples) counts.set(s.sourceId, (counts.get(s.sourceId) ?? 0) + 1);
  return { unit: useCrf ? 'crf' : 'level', samples: samples.filter((s) => (counts.get(s.sourceId) ?? 0) > 1) };
}

/** Every level difference that occurs within a ladder, ascending. */
function levelDiffs(samples: readonly FlipSample[]): number[] {
  const diffs = new Set<number>();
  for (const a of samples) {
    for (const b of samples) {
      if (a.sourceId === b.sourceId && b.level > a.level) diffs.add(b.level - a.level);
    }
  }
  return [...diffs].sort((x, y) => x - y);
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
  if (report.flipRate.length === 0) lines.push('flip rate: no ladder with two or more scored variants');
  else {
    lines.push(`flip rate by ${report.flipUnit === 'crf' ? 'CRF' : 'level'} difference:`);
    for (const b of report.flipRate) lines.push(`  ${b.diff}: ${b.rate === null ? '–' : b.rate.toFixed(4)} (${b.flips}/${b.pairs} pairs)`);
  }
  return lines.join('\n');
}

/** `vqlm eval --manifest <file> --model <bundle>`: scores a manifest and reports correlations and flip rates. */
export const evalCommand: CommandModule = {
  name: 'eval',
  register(program: Command): void {
    program
      .command('eval')
      .description('score every entry of a manifest; SRCC/PLCC/KRCC/RMSE against MOS (or pseudo-MOS) and flip rate by level difference')
      .option('--manifest <file>', 'manifest (JSONL, or CSV by extension); paths relative to its folder')
      .option('--model <bundle>', 'model bundle directory (required: no default model ships yet)')
      .option('--json', 'one JSON object with the whole report')
      .action(async (flags: EvalFlags) => {
        if (!flags.manifest) throw new CliError('--manifest <file> is required', 'E_NO_MANIFEST');
        const entries = await readManifest(flags.manifest);
        const root = dirname(resolve(flags.manifest));
        const scorer = await openScorer(flags.model);
        const progress = createProgress(entries.length, 'eval');
        const scored: { entry: ManifestEntry; score: number }[] = [];
        const failed: EvalReport['failed'] = [];
        try {
          for (const entry of entries) {
            const path = isAbsolute(entry.path) ? entry.path : resolve(root, entry.path);
            try {
              scored.push({ entry, score: (await scorer.score(path)).score });
            } catch (err) {
              failed.push({ id: entry.id, path: entry.path, error: formatError(err) });
              process.stderr.write(`vqlm: ${entry.id} (${entry.path}): ${formatError(err)}\n`);
            }
            progress.increment(1, entry.id);
          }
        } finally {
          progress.stop();
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
