#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { initBackend, type BackendName } from '@vqlm/runtime';
import { Command, InvalidArgumentError } from 'commander';
import { ablationPlanSchema, runAblation } from './ablation.js';
import { loadTrainConfig } from './config.js';
import { TrainerError } from './errors.js';
import { evalBrief } from './evaluate.js';
import { createTrainProgress } from './progress.js';
import { train, type TrainResult } from './trainer.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${value}`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got ${value}`);
  return n;
}

interface Flags {
  config: string;
  resume?: boolean;
  fresh?: boolean;
  json?: boolean;
  out?: string;
  epochs?: number;
  seed?: number;
  stopAfter?: number;
  cacheDir?: string;
  jobs?: number;
}

/** What `--json` prints: the run's outcome without the per-step log. */
export function resultJson(result: TrainResult): unknown {
  const { log, val, test, ...rest } = result;
  return { ...rest, steps: log.filter((r) => r.type === 'step').length, val: evalBrief(val), test: evalBrief(test) };
}

function installSignals(): { controller: AbortController; signalled: () => NodeJS.Signals | null; remove: () => void } {
  const controller = new AbortController();
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`\n${signal} again: exiting without a checkpoint\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    signalled = signal;
    process.stderr.write(`\n${signal}: finishing the current step and writing a checkpoint (again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    controller,
    signalled: () => signalled,
    remove: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function useBackend(): Promise<void> {
  await initBackend({ backend: process.env.VQLM_BACKEND as BackendName | undefined, log: (message) => process.stderr.write(`${message}\n`) });
}

async function runTrain(flags: Flags): Promise<number> {
  const config = await loadTrainConfig(flags.config, (raw) => {
    const value = { ...(raw as Record<string, unknown>) };
    if (flags.seed !== undefined) value.seed = flags.seed;
    if (flags.out !== undefined) value.output = { ...((value.output) ?? {}), dir: resolve(flags.out) };
    if (flags.epochs !== undefined) value.train = { ...((value.train) ?? {}), epochs: flags.epochs };
    return value;
  });
  await useBackend();
  const signals = installSignals();
  const progress = createTrainProgress();
  try {
    const result = await train(config, { resume: flags.resume, fresh: flags.fresh, signal: signals.controller.signal, stopAfterStep: flags.stopAfter, cacheDir: flags.cacheDir ? resolve(flags.cacheDir) : undefined, jobs: flags.jobs, onEvent: progress.onEvent });
    progress.stop();
    if (flags.json) process.stdout.write(`${JSON.stringify(resultJson(result))}\n`);
    if (result.interrupted) {
      process.stderr.write(
        result.step === 0
          ? `stopped while preparing the data (the views decoded so far are cached); run the same command again to continue\n`
          : `stopped at step ${result.step}; checkpoint in ${result.runDir}/checkpoints; continue with --resume\n`,
      );
      return signals.signalled() === 'SIGTERM' ? 143 : 130;
    }
    process.stderr.write(`done: ${result.step} steps; bundle ${result.bundleDir}; plot ${result.plotFile}\n`);
    return 0;
  } finally {
    progress.stop();
    signals.remove();
  }
}

interface AblateFlags {
  config: string;
  plan?: string;
  out: string;
  seeds?: string;
  json?: boolean;
}

async function runAblate(flags: AblateFlags): Promise<number> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(flags.config, 'utf8'));
  } catch (error) {
    throw new TrainerError('E_CONFIG', `${flags.config}: ${(error as Error).message}`);
  }
  let planRaw: unknown = {};
  if (flags.plan) {
    try {
      planRaw = JSON.parse(await readFile(flags.plan, 'utf8'));
    } catch (error) {
      throw new TrainerError('E_CONFIG', `${flags.plan}: ${(error as Error).message}`);
    }
  }
  if (flags.seeds) planRaw = { ...(planRaw as object), seeds: flags.seeds.split(',').map((s) => nonNegativeInt(s.trim())) };
  const parsed = ablationPlanSchema.safeParse(planRaw);
  if (!parsed.success) throw new TrainerError('E_CONFIG', `${flags.plan ?? 'plan'}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  await useBackend();
  const signals = installSignals();
  let progress = createTrainProgress();
  try {
    const result = await runAblation(raw, parsed.data, {
      outDir: resolve(flags.out),
      baseDir: dirname(resolve(flags.config)),
      signal: signals.controller.signal,
      onEvent: (event) => {
        if (event.type === 'run') {
          progress.stop();
          progress = createTrainProgress();
          process.stderr.write(`ablation run ${event.index + 1}/${event.total}: ${event.variant}, seed ${event.seed}${event.reused ? ' (finished earlier, reused)' : ''}\n`);
        } else {
          progress.onEvent(event.event);
        }
      },
    });
    progress.stop();
    if (result.interrupted) {
      process.stderr.write('ablation stopped; run the same command again to continue\n');
      return signals.signalled() === 'SIGTERM' ? 143 : 130;
    }
    if (flags.json) process.stdout.write(`${JSON.stringify({ runs: result.runs.map(({ predictions: _p, targets: _t, ...run }) => run), summary: result.summary })}\n`);
    else process.stdout.write(result.markdown);
    return 0;
  } finally {
    progress.stop();
    signals.remove();
  }
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('vqlm-train').description('Train CP-LLM by its multi-task recipe (scores, pairs of variants, descriptions) from a JSON config').showHelpAfterError();
  program
    .command('train', { isDefault: true })
    .description('train one model (the default command: `vqlm-train --config <file>`)')
    .requiredOption('--config <file>', 'training config (JSON); see apps/trainer/README.md')
    .option('--resume', 'continue from the run directory’s latest checkpoint (same step, sampler position and optimizer state)')
    .option('--fresh', 'delete the run directory’s checkpoints, log and outputs first (keeps the decoded-view cache)')
    .option('--out <dir>', 'run directory (overrides output.dir)')
    .option('--epochs <n>', 'number of epochs (overrides train.epochs)', positiveInt)
    .option('--seed <n>', 'seed (overrides seed)', nonNegativeInt)
    .option('--stop-after <steps>', 'stop after this many steps with a checkpoint, as on SIGINT', positiveInt)
    .option('--cache-dir <dir>', 'cache of decoded views and frozen features (default <run>/cache; share it between runs on the same data)')
    .option('--jobs <n>', 'ensemble members trained at once, each in its own process (default 1)', positiveInt)
    .option('--json', 'print the outcome as JSON on stdout')
    .action(async (flags: Flags) => {
      code = await runTrain(flags);
    });
  program
    .command('ablate')
    .description('train every variant of an ablation plan with several seeds and report mean ± std and significance tests against the baseline')
    .requiredOption('--config <file>', 'base training config (JSON)')
    .option('--plan <file>', 'ablation plan (JSON: baseline, seeds, variants); default CP-LLM Table 4 with seeds 0,1,2')
    .requiredOption('--out <dir>', 'directory of the runs, ablation.json and ablation.md (run again to continue)')
    .option('--seeds <list>', 'comma-separated seeds (overrides the plan)')
    .option('--json', 'print the runs and the summary as JSON instead of the Markdown table')
    .action(async (flags: AblateFlags) => {
      code = await runAblate(flags);
    });
  await program.parseAsync(argv);
  return code;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    process.stderr.write(`vqlm-train: ${message}${typeof code === 'string' && !message.includes(code) ? ` [${code}]` : ''}\n`);
    if (process.env.VQLM_DEBUG && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    process.exitCode = 1;
  },
);
