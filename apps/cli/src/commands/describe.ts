import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';
import { openScorer, withModelOptions, type ModelFlags } from '../model.js';

interface DescribeFlags extends ModelFlags {
  json?: boolean;
}

/** `vqlm describe <video> --model <bundle>`: the model's description of a video's quality. */
export const describeCommand: CommandModule = {
  name: 'describe',
  register(program: Command): void {
    withModelOptions(
      program
        .command('describe')
        .description("the model's description of a video's quality (greedy, deterministic)")
        .argument('<video>', 'video file')
    )
      .option('--json', 'one JSON object: {path, description}')
      .action(async (video: string, flags: DescribeFlags) => {
        const scorer = await openScorer(flags.model, flags.engine);
        try {
          const description = await scorer.describe(video);
          if (flags.json) printJson({ path: video, description });
          else process.stdout.write(`${description}\n`);
        } finally {
          await scorer.dispose();
        }
      });
  },
};
