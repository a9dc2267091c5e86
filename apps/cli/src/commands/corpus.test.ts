import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifestJsonl } from '@vqlm/datasets';
import { makeTempDir, removeTempDir, runCli, sharedPath } from '../__fixtures__/run-cli.js';

const realshort = sharedPath('corpus', 'sources', 'realshort.mp4');

describe('vqlm corpus build', () => {
  let root: string;
  let sources: string;
  beforeAll(async () => {
    root = await makeTempDir('corpus');
    sources = join(root, 'sources');
    await mkdir(sources);
    await copyFile(realshort, join(sources, 'realshort.mp4'));
    await writeFile(join(sources, 'truncated.mp4'), Buffer.alloc(2048, 7));
  });
  afterAll(async () => removeTempDir(root));

  it('builds a 2-level corpus from a real clip, reports the corrupt one, and prints JSON', async () => {
    const out = join(root, 'out');
    const { code, stdout, stderr } = await runCli(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20', '--jobs', '1', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ segments: 1, variants: 2, built: 3, reused: 0, pseudoMosMethod: 'order-only' });
    expect(report.skipped).toHaveLength(1);
    expect(stderr).toMatch(/^vqlm: skipped .*truncated\.mp4: /m);
    const manifest = await readManifestJsonl(join(out, 'manifest.jsonl'));
    expect(manifest.map((e) => e.id)).toEqual(['realshort-s00', 'realshort-s00~h264-crf24', 'realshort-s00~h264-crf44']);
    expect(existsSync(join(out, 'descriptions.jsonl'))).toBe(true);

    const again = await runCli(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/1 sources → 1 segments, 2 variants \(built 0, reused 3\)/);

    // Named held-out sources: the same build (all reused), split as asked.
    const named = await runCli(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20', '--test-sources', 'realshort']);
    expect(named.code).toBe(0);
    expect(new Set((await readManifestJsonl(join(out, 'manifest.jsonl'))).map((e) => e.split))).toEqual(new Set(['test']));
  });

  it('names an unknown held-out source before building anything', async () => {
    const out = join(root, 'unknown');
    const { code, stderr } = await runCli(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20', '--test-sources', 'chaplin']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/test sources: no entry has sourceId 'chaplin' \(known: realshort, truncated\)/);
    expect(existsSync(join(out, 'manifest.jsonl'))).toBe(false);
  });

  it('rejects bad flags with a one-line error', async () => {
    const bad = await runCli(['corpus', 'build', '--sources', sources, '--out', join(root, 'x'), '--crf', 'abc']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("vqlm: crf must look like 15:53:2, got 'abc' [E_ARGUMENT]\n");
    const jobs = await runCli(['corpus', 'build', '--sources', sources, '--out', join(root, 'x'), '--jobs', '0']);
    expect(jobs.stderr).toBe("vqlm: --jobs must be a positive integer, got '0' [E_ARGUMENT]\n");
    const none = await runCli(['corpus', 'build', '--sources', join(root, 'nowhere'), '--out', join(root, 'x')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^vqlm: sources: cannot read directory .*nowhere.*\n$/);
  });
});
