import type { Command } from 'commander';
import {
  fullReference,
  h264Ladder,
  makeVariants,
  vp9Ladder,
  type LadderStep,
} from '@vqlm/video-io';
import { CliError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { createProgress, printJson } from '../output.js';

interface VariantsFlags {
  codec: string;
  crf: string;
  out: string;
  vmafModel?: string;
  preset?: string;
  json?: boolean;
}

/** Parses `from:to:step` (or a single CRF) into a ladder for `codec`. */
export function parseCrfLadder(codec: string, text: string): LadderStep[] {
  const parts = text.split(':').map(Number);
  const valid =
    (parts.length === 1 || parts.length === 3) && parts.every((n) => Number.isInteger(n) && n >= 0);
  if (!valid || (parts.length === 3 && (parts[2] <= 0 || parts[1] < parts[0]))) {
    throw new CliError(
      `--crf must be 'from:to:step' or one CRF (integers, from ≤ to, step > 0), got '${text}'`,
      'E_ARGUMENT',
    );
  }
  const [from, to, step] = parts.length === 1 ? [parts[0], parts[0], 1] : parts;
  if (codec === 'h264') return h264Ladder({ from, to, step });
  if (codec === 'vp9') return vp9Ladder({ from, to, step });
  throw new CliError(`--codec must be h264 or vp9, got '${codec}'`, 'E_ARGUMENT');
}

const round = (value: number | undefined, digits: number): number | null =>
  value === undefined || !Number.isFinite(value) ? null : Number(value.toFixed(digits));

/** `vqlm variants <video>`: a CRF ladder of compressed copies, each scored against the source. */
export const variantsCommand: CommandModule = {
  name: 'variants',
  register(program: Command): void {
    program
      .command('variants')
      .description(
        'encode a CRF ladder of a video and score each variant against it (PSNR, SSIM, VMAF)',
      )
      .argument('<video>', 'source video file')
      .option('--codec <codec>', 'h264 or vp9', 'h264')
      .option(
        '--crf <from:to:step>',
        'CRF levels (default: the CP-LLM ladder 15..53 step 2)',
        '15:53:2',
      )
      .requiredOption('--out <dir>', 'directory for the variants (created if missing)')
      .option(
        '--vmaf-model <file>',
        'libvmaf 1.x model (vmaf_v0.6.1.pkl); default $VQLM_VMAF_MODEL; VMAF is skipped without one',
      )
      .option(
        '--preset <preset>',
        'encoder speed preset (x264: ultrafast..veryslow; vp9: good, best, realtime)',
      )
      .option('--json', 'one JSON object per variant: path, codec, crf, psnr, ssim, vmaf')
      .action(async (video: string, flags: VariantsFlags) => {
        const ladder = parseCrfLadder(flags.codec, flags.crf);
        const vmafModel = flags.vmafModel ?? process.env.VQLM_VMAF_MODEL;
        if (!vmafModel)
          process.stderr.write(
            'vqlm: VMAF skipped: no model given (--vmaf-model or VQLM_VMAF_MODEL)\n',
          );
        const controller = new AbortController();
        const onSigint = (): void => controller.abort();
        process.once('SIGINT', onSigint);
        const progress = createProgress(ladder.length, 'variants');
        try {
          for (const step of ladder) {
            const [variant] = await makeVariants(video, {
              outDir: flags.out,
              ladder: [step],
              preset: flags.preset,
              signal: controller.signal,
            });
            const scores = await fullReference(variant.path, video, {
              metrics: ['psnr', 'ssim', 'vmaf'],
              vmafModel,
              signal: controller.signal,
            });
            const row = {
              path: variant.path,
              codec: step.kind,
              crf: step.crf,
              psnr: round(scores.psnr?.mean, 3),
              ssim: round(scores.ssim?.mean, 5),
              vmaf: round(scores.vmaf?.mean, 3),
            };
            progress.increment(1, variant.path);
            if (flags.json) printJson(row);
            else
              process.stdout.write(
                `${row.path}\tcrf ${row.crf}\tpsnr ${row.psnr}\tssim ${row.ssim}\tvmaf ${row.vmaf ?? '-'}\n`,
              );
          }
        } finally {
          progress.stop();
          process.removeListener('SIGINT', onSigint);
        }
      });
  },
};
