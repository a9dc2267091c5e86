import type { Command } from 'commander';
import { probe, type VideoInfo } from '@vqlm/video-io';
import type { CommandModule } from '../command.js';
import { printJson } from '../output.js';

function describe(info: VideoInfo): string {
  const size = `${info.width}×${info.height}`;
  const shown =
    info.outputSize[1] !== info.width || info.outputSize[0] !== info.height
      ? ` (shown ${info.outputSize[1]}×${info.outputSize[0]})`
      : '';
  return [
    info.path,
    `  ${info.codec} ${info.pixelFormat} ${info.bitDepth}-bit ${size}${shown}, rotation ${info.rotation}°, aspect ${info.displayAspect.toFixed(3)}`,
    `  ${info.frameCount} frames, ${info.fps.toFixed(3)} fps${info.variableFrameRate ? ' (variable)' : ''}, ${info.duration.toFixed(3)} s`,
    `  colour: transfer ${info.colorTransfer}, matrix ${info.colorSpace}, primaries ${info.colorPrimaries}, range ${info.colorRange}${info.hdr ? ' (HDR)' : ''}`,
  ].join('\n');
}

/** `vqlm probe <video...>`: video properties from ffprobe. */
export const probeCommand: CommandModule = {
  name: 'probe',
  register(program: Command): void {
    program
      .command('probe')
      .description(
        "show a video's size, rotation, frame rate, frame count, codec, bit depth and colour (HDR or not)",
      )
      .argument('<video...>', 'video files')
      .option('--json', 'one JSON object per video on stdout')
      .action(async (videos: string[], flags: { json?: boolean }) => {
        for (const video of videos) {
          const info = await probe(video);
          if (flags.json) printJson(info);
          else process.stdout.write(`${describe(info)}\n`);
        }
      });
  },
};
