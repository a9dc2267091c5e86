export { main, createProgram } from './main.js';
export { CliError } from './cli-error.js';
export type { CommandModule } from './command.js';
