/** Child process of the benchmark: runs the pipeline once and prints its peak RSS (MiB). */
import { readFileSync } from 'node:fs';
import {
  contextView,
  pixelView,
  sampleKeyFrames,
  sampleViews,
  type SamplingStrategy,
} from '../src/index.js';

const [file, strategy, what] = process.argv.slice(2);
if (what === 'views') {
  const views = await sampleViews(file, { m: 8 });
  if (!views.context || !views.pixel) throw new Error('missing views');
} else if (what !== 'baseline') {
  const keyFrames = await sampleKeyFrames(file, { m: 8, strategy: strategy as SamplingStrategy });
  const context = contextView(keyFrames);
  const pixel = pixelView(keyFrames);
  if (context.frames.length + pixel.frames.length === 0) throw new Error('empty views');
}
// VmHWM is this process image's own peak (ru_maxrss keeps the parent's peak across fork + exec on Linux)
let peakKiB = process.resourceUsage().maxRSS;
try {
  const match = /VmHWM:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match) peakKiB = Number(match[1]);
} catch {
  // not Linux: fall back to getrusage
}
process.stdout.write(`${JSON.stringify({ maxRssMiB: peakKiB / 1024 })}\n`);
