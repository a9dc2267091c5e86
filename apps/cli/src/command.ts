import type { Command } from 'commander';

/**
 * One `vqlm` sub-command. Commands are data: each file in `commands/` exports
 * one of these and `commands/index.ts` lists them; `createProgram` registers
 * the list explicitly (nothing registers itself on import).
 */
export interface CommandModule {
  /** Sub-command name as typed by the user, e.g. `metrics`. */
  readonly name: string;
  /** Adds the sub-command (options, help text, action) to `program`. */
  register(program: Command): void;
}
