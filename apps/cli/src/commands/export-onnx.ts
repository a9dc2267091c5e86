import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';

interface ExportOnnxFlags {
  json?: boolean;
}

/** `vqlm export-onnx <bundle>`: exports a bundle's scoring path to ONNX, in place. */
export const exportOnnxCommand: CommandModule = {
  name: 'export-onnx',
  register(program: Command): void {
    program
      .command('export-onnx')
      .description(
        "export a bundle's scoring path to ONNX in place, from its tfjs weights: CP-LLM's pixel encoder, quality head, context tower and decoder (LoRA folded in), or LMM-VQA's spatial and temporal encoders, decoder and level head; score, describe, eval and the server then run them in ONNX Runtime. An ensemble bundle: every member",
      )
      .argument('<bundle>', 'model bundle directory (CP-LLM, CP-LLM ensemble or LMM-VQA)')
      .option('--json', 'one JSON object: {bundles: [{dir, onnx}]}')
      .action(async (bundle: string, flags: ExportOnnxFlags) => {
        const [{ initBackend }, { exportBundleOnnx }] = await Promise.all([import('@vqlm/runtime'), import('@vqlm/models')]);
        await initBackend({ log: () => undefined });
        const written = await exportBundleOnnx(bundle);
        if (flags.json) {
          printJson({ bundles: written });
          return;
        }
        for (const { dir, onnx } of written) process.stdout.write(`${dir}: ${Object.values(onnx).join(', ')}\n`);
      });
  },
};
