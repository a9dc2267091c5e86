/** Child process of the bench: loads one checkpoint and prints `{ baselineRss, peakRss, seconds }` as JSON. */
import { initBackend, tf } from '@vqlm/runtime';
import { loadGemmaCheckpoint } from '../src/index.js';

const dir = process.argv[2];
await initBackend({ backend: 'cpu', log: () => {} });
const baselineRss = process.memoryUsage().rss;
const start = process.hrtime.bigint();
const decoder = await loadGemmaCheckpoint(dir);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const peakRss = process.resourceUsage().maxRSS * 1024;
const tensors = tf.memory().numTensors;
decoder.dispose();
console.log(JSON.stringify({ baselineRss, peakRss, seconds, tensors }));
