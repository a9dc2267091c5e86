import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';
import { openScorer, withModelOptions, type ModelFlags } from '../model.js';
import { formatScore, scoreRecord } from './score.js';

interface CompareFlags extends ModelFlags {
  describe?: boolean;
  json?: boolean;
}

/** `vqlm compare <a> <b> --model <bundle>`: scores two videos and says which is better. */
export const compareCommand: CommandModule = {
  name: 'compare',
  register(program: Command): void {
    withModelOptions(
      program
        .command('compare')
        .description('score two videos with a model bundle and say which is better')
        .argument('<a>', 'first video')
        .argument('<b>', 'second video')
    )
      .option("--describe", "also generate the model's comparison of the pair")
      .option('--json', 'one JSON object: {a, b, difference, better, description?}')
      .action(async (a: string, b: string, flags: CompareFlags) => {
        const scorer = await openScorer(flags.model, flags.engine);
        try {
          const result = await scorer.compare(a, b, { describe: flags.describe === true });
          if (flags.json) {
            printJson({
              a: scoreRecord(result.a),
              b: scoreRecord(result.b),
              difference: result.difference,
              better: result.better,
              ...(result.description === undefined ? {} : { description: result.description }),
            });
            return;
          }
          const verdict =
            result.better === 'tie'
              ? 'tie: both score the same'
              : `better: ${result.better} (${result.better === 'a' ? a : b}) by ${Math.abs(result.difference).toFixed(3)}`;
          const lines = [`a ${formatScore(result.a)}`, `b ${formatScore(result.b)}`, verdict];
          if (result.description !== undefined) lines.push(result.description);
          process.stdout.write(`${lines.join('\n')}\n`);
        } finally {
          await scorer.dispose();
        }
      });
  },
};
