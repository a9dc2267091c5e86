import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  buildCorpus,
  h264Recipes,
  parseCrfRange,
  type CorpusProgress,
  type SourceLabel,
} from '@vqlm/datasets';
import { CliError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { createProgress, printJson, type Progress } from '../output.js';

interface BuildFlags {
  sources: string;
  out: string;
  vmafModel?: string;
  segmentSeconds: string;
  crf: string;
  jobs?: string;
  preset?: string;
  labels?: string;
  splitSeed: string;
  testSources?: string;
  valSources?: string;
  json?: boolean;
}

function positiveNumber(value: string, flag: string, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new CliError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${value}'`, 'E_ARGUMENT');
  }
  return n;
}

async function readLabels(file: string): Promise<Record<string, SourceLabel>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`--labels: cannot read JSON from '${file}' (${(err as Error).message.split('\n')[0]})`, 'E_ARGUMENT');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError(`--labels: '${file}' must map file names to { "content": ..., "style": ... }`, 'E_ARGUMENT');
  }
  return raw as Record<string, SourceLabel>;
}

async function runBuild(flags: BuildFlags): Promise<void> {
  const segmentSeconds = positiveNumber(flags.segmentSeconds, '--segment-seconds', false);
  const concurrency = flags.jobs === undefined ? undefined : positiveNumber(flags.jobs, '--jobs', true);
  const splitSeed = Number(flags.splitSeed);
  if (!Number.isInteger(splitSeed)) throw new CliError(`--split-seed must be an integer, got '${flags.splitSeed}'`, 'E_ARGUMENT');
  const list = (text: string | undefined): string[] | undefined => (text === undefined ? undefined : text.split(',').map((name) => name.trim()).filter((name) => name.length > 0));
  const splits = flags.testSources !== undefined || flags.valSources !== undefined ? { test: list(flags.testSources) ?? [], val: list(flags.valSources) ?? [] } : undefined;
  const ladder = h264Recipes(parseCrfRange(flags.crf));
  const vmafModel = flags.vmafModel ?? process.env.VQLM_VMAF_MODEL;
  const sourceLabels = flags.labels ? await readLabels(flags.labels) : undefined;

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bars = new Map<CorpusProgress['phase'], Progress>();
  const onProgress = (event: CorpusProgress) => {
    let bar = bars.get(event.phase);
    if (!bar) {
      bar = createProgress(event.total, event.phase === 'segment' ? 'sources ' : 'variants');
      bars.set(event.phase, bar);
    }
    bar.increment(1, event.item);
    if (event.done === event.total) bar.stop();
  };
  try {
    const result = await buildCorpus({
      sources: flags.sources,
      out: flags.out,
      ladder,
      segmentSeconds,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(vmafModel ? { vmafModel } : {}),
      ...(flags.preset ? { preset: flags.preset } : {}),
      ...(sourceLabels ? { sourceLabels } : {}),
      splitSeed,
      ...(splits ? { splits } : {}),
      signal: controller.signal,
      onProgress,
    });
    for (const bar of bars.values()) bar.stop();
    if (result.segments === 0) {
      throw new CliError(`no source in '${flags.sources}' could be read (${result.skipped.map((s) => s.reason).join('; ')})`, 'E_CORPUS');
    }
    const { entries: _entries, ...report } = result;
    if (flags.json) {
      printJson(report);
    } else {
      process.stdout.write(
        `${result.sources} sources → ${result.segments} segments, ${result.variants} variants ` +
          `(built ${result.built}, reused ${result.reused}) in ${(result.wallMs / 1000).toFixed(1)} s\n` +
          `pseudo-MOS: ${result.pseudoMosMethod}${vmafModel ? '' : ' (no --vmaf-model)'}\n` +
          `manifest: ${result.manifestPath}\ndescriptions: ${result.descriptionsPath}\n`,
      );
    }
    for (const s of result.skipped) process.stderr.write(`vqlm: skipped ${s.source}: ${s.reason}\n`);
    for (const f of result.failed) process.stderr.write(`vqlm: failed ${f.id}: ${f.reason}\n`);
    if (result.failed.length > 0) process.exitCode = 1;
  } catch (err) {
    for (const bar of bars.values()) bar.stop();
    if ((err as { code?: unknown }).code === 'E_ABORTED') {
      throw new CliError(`corpus build interrupted; run the same command again to resume`, 'E_ABORTED', 130);
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/**
 * `vqlm corpus build`: source clips → segments → distortion ladders with
 * PSNR/SSIM/VMAF, pseudo-MOS, splits and descriptions (`@vqlm/datasets`
 * `buildCorpus`). Resumable: run it again after Ctrl-C.
 */
export const corpusCommand: CommandModule = {
  name: 'corpus',
  register(program: Command): void {
    const corpus = program.command('corpus').description('build training corpora from source clips');
    corpus
      .command('build')
      .description('cut source clips into segments, encode a CRF ladder of each, score it (PSNR/SSIM/VMAF) and write manifest + descriptions; resumable')
      .requiredOption('--sources <dir>', 'directory of source clips')
      .requiredOption('--out <dir>', 'output directory (run again to resume)')
      .option('--vmaf-model <file>', 'libvmaf 1.x model (vmaf_v0.6.1.pkl); default $VQLM_VMAF_MODEL; without it pseudo-MOS is order-only')
      .option('--segment-seconds <n>', 'segment length in seconds', '4')
      .option('--crf <from:to:step>', 'H.264 CRF ladder (the paper: 15:53:2, 20 levels)', '15:53:2')
      .option('--jobs <n>', 'encodes / metric runs in parallel (default: half the CPUs)')
      .option('--preset <name>', 'x264 preset of the variants (default medium)')
      .option('--labels <file>', 'JSON { "<file name>": { "content": "...", "style": "..." } } for the descriptions')
      .option('--split-seed <n>', 'seed of the train/val/test split by source', '0')
      .option('--test-sources <ids>', 'comma-separated source ids (file stems) to hold out as the test split, instead of a seeded draw; the rest train')
      .option('--val-sources <ids>', 'comma-separated source ids for the validation split (with --test-sources)')
      .option('--json', 'print the build report as JSON on stdout')
      .action(async (flags: BuildFlags) => runBuild(flags));
  },
};
