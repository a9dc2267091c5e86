import { copyFile, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scorer } from '@vqlm/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScorer, makeClip, makeMicroBundle, makeTempDir, removeDir, testBackend } from '../__fixtures__/harness.js';
import { failedJobStatus } from '../server.js';
import { createScorerProcessor } from './processor.js';

let root: string;
let scorer: Scorer;
beforeAll(async () => {
  root = await makeTempDir('processor');
  scorer = await loadScorer(await makeMicroBundle(root), { backend: testBackend });
});
afterAll(async () => {
  await scorer?.dispose();
  await removeDir(root);
});

describe('createScorerProcessor', () => {
  it('returns path-free results and reports progress up to 1', async () => {
    const clip = makeClip(join(root, 'clip.mp4'));
    const progress: number[] = [];
    const process = createScorerProcessor(scorer);
    const result = (await process({ kind: 'score', videos: [clip], owned: [], describe: true }, (p) => progress.push(p))) as Record<string, unknown>;
    const direct = await scorer.score(clip, { describe: true });
    const { path: _path, ...expected } = direct;
    expect(result).toEqual(expected);
    expect(progress.at(-1)).toBe(1);
    const compared = (await process({ kind: 'compare', videos: [clip, clip], owned: [] }, () => undefined)) as Record<string, unknown>;
    expect(compared).toMatchObject({ difference: 0, better: 'tie' });
    expect(compared.a).not.toHaveProperty('path');
  });

  it('fails with the error code and names the field, not the file path', async () => {
    const broken = join(root, 'broken.mp4');
    await copyFile(makeClip(join(root, 'fs.mp4'), { frames: 30, faststart: true }), broken);
    await truncate(broken, Math.floor((await readFile(broken)).length / 5));
    const clip = makeClip(join(root, 'ok.mp4'));
    const error = await createScorerProcessor(scorer)({ kind: 'compare', videos: [clip, broken], owned: [] }, () => undefined).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_DECODE' });
    expect((error as Error).message).toMatch(/^b: /);
    expect((error as Error).message).not.toContain(root);
    expect(failedJobStatus('E_DECODE')).toBe(422);
    await expect(createScorerProcessor(scorer)({ kind: 'compare', videos: [clip], owned: [] }, () => undefined)).rejects.toMatchObject({ code: 'E_BAD_REQUEST' });
  });
});
