import type { CommandModule } from '../command.js';
import { corpusCommand } from './corpus.js';
import { framesCommand } from './frames.js';
import { metricsCommand } from './metrics.js';
import { probeCommand } from './probe.js';
import { variantsCommand } from './variants.js';

/** Every `vqlm` sub-command, in the order `--help` lists them. */
export const commands: readonly CommandModule[] = [corpusCommand, probeCommand, framesCommand, variantsCommand, metricsCommand];
