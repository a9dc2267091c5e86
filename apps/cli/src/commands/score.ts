import type { Command } from 'commander';
import type { ScoreResult } from '@vqlm/models';
import { CliError, formatError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { openScorer, withModelOptions, type ModelFlags } from '../model.js';
import { createProgress, printJson } from '../output.js';

/** The JSON / printed shape of one scored video. */
export function scoreRecord(result: ScoreResult): { path: string; score: number; level: string; perFrame: number[]; members?: number[]; description?: string } {
  return {
    path: result.path,
    score: result.score,
    level: result.level,
    perFrame: result.perFrame,
    ...(result.members === undefined ? {} : { members: result.members }),
    ...(result.description === undefined ? {} : { description: result.description }),
  };
}

/** One human-readable line (plus the description, when there is one). */
export function formatScore(result: ScoreResult): string {
  const frames = result.perFrame.map((s) => s.toFixed(2)).join(' ');
  const members = result.members === undefined ? '' : `; ensemble members ${result.members.map((s) => s.toFixed(2)).join(' ')}`;
  // LMM-VQA rates the whole video: no per-frame scores.
  const perFrame = result.perFrame.length > 0 ? `per frame ${frames}` : 'whole-video score (LMM-VQA)';
  const line = `${result.path}: ${result.score.toFixed(3)} (${result.level}); ${perFrame}${members}`;
  return result.description === undefined ? line : `${line}\n  ${result.description}`;
}

interface ScoreFlags extends ModelFlags {
  describe?: boolean;
  json?: boolean;
}

/** `vqlm score <video...> --model <bundle>`: score, level and per-frame scores of each video. */
export const scoreCommand: CommandModule = {
  name: 'score',
  register(program: Command): void {
    withModelOptions(
      program
        .command('score')
        .description('score videos (1–5 MOS scale) with a model bundle; bad videos are reported and skipped')
        .argument('<video...>', 'video files')
    )
      .option('--describe', 'also generate a description of each video (slower)')
      .option('--json', 'one JSON object per video per line: {path, score, level, perFrame, members? (an ensemble\'s member scores), description?}')
      .action(async (videos: string[], flags: ScoreFlags) => {
        const scorer = await openScorer(flags.model, flags.engine);
        const progress = videos.length > 1 ? createProgress(videos.length, 'score') : undefined;
        let failed = 0;
        try {
          for (const video of videos) {
            try {
              const result = await scorer.score(video, { describe: flags.describe === true });
              if (flags.json) printJson(scoreRecord(result));
              else process.stdout.write(`${formatScore(result)}\n`);
            } catch (err) {
              failed++;
              process.stderr.write(`vqlm: ${video}: ${formatError(err)}\n`);
            }
            progress?.increment(1, video);
          }
        } finally {
          progress?.stop();
          await scorer.dispose();
        }
        if (failed > 0) throw new CliError(`${failed} of ${videos.length} videos failed`, 'E_SCORE_FAILED');
      });
  },
};
