import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';
import { MODEL_OPTION_HELP, openScorer } from '../model.js';

interface DescribeFlags {
  model?: string;
  json?: boolean;
}

/** `vqlm describe <video> --model <bundle>`: the model's description of a video's quality. */
export const describeCommand: CommandModule = {
  name: 'describe',
  register(program: Command): void {
    program
      .command('describe')
      .description("the model's description of a video's quality (greedy, deterministic)")
      .argument('<video>', 'video file')
      .option('--model <bundle>', MODEL_OPTION_HELP)
      .option('--json', 'one JSON object: {path, description}')
      .action(async (video: string, flags: DescribeFlags) => {
        const scorer = await openScorer(flags.model);
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
