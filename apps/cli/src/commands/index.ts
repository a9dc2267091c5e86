import type { CommandModule } from '../command.js';
import { compareCommand } from './compare.js';
import { corpusCommand } from './corpus.js';
import { describeCommand } from './describe.js';
import { evalCommand } from './eval.js';
import { exportOnnxCommand } from './export-onnx.js';
import { flipRateCommand } from './flip-rate.js';
import { framesCommand } from './frames.js';
import { metricsCommand } from './metrics.js';
import { probeCommand } from './probe.js';
import { scoreCommand } from './score.js';
import { variantsCommand } from './variants.js';

/** Every `vqlm` sub-command, in the order `--help` lists them. */
export const commands: readonly CommandModule[] = [corpusCommand, probeCommand, framesCommand, variantsCommand, metricsCommand, scoreCommand, compareCommand, describeCommand, evalCommand, flipRateCommand, exportOnnxCommand];
