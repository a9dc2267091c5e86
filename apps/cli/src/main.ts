import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { CliError, formatError } from './cli-error.js';
import { version } from './version.js';

/** Builds the `vqlm` program with every command in `commands/index.ts`. */
export function createProgram(): Command {
  const program = new Command('vqlm')
    .description('Video quality assessment with multimodal language models')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const command of commands) command.register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

/**
 * Runs the CLI on `argv` (as in `process.argv`) and resolves to the exit
 * code. Errors become one line on stderr: `vqlm: <message>`.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit with 0; usage errors are already printed by commander
      return err.exitCode;
    }
    process.stderr.write(`vqlm: ${formatError(err)}\n`);
    if (process.env.VQLM_DEBUG && err instanceof Error && !(err instanceof CliError)) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    return err instanceof CliError ? err.exitCode : 1;
  }
}
