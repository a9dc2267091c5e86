import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readManifestJsonl } from '@vqlm/datasets';
import { main } from '../main.js';

const shared = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'shared');
const realshort = join(shared, 'corpus', 'sources', 'realshort.mp4');

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'vqlm', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

describe('vqlm corpus build', () => {
  let root: string;
  let sources: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vqlm-cli-corpus-'));
    sources = join(root, 'sources');
    await mkdir(sources);
    await copyFile(realshort, join(sources, 'realshort.mp4'));
    await writeFile(join(sources, 'truncated.mp4'), Buffer.alloc(2048, 7));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('builds a 2-level corpus from a real clip, reports the corrupt one, and prints JSON', async () => {
    const out = join(root, 'out');
    const { code, stdout, stderr } = await run(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20', '--jobs', '1', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ segments: 1, variants: 2, built: 3, reused: 0, pseudoMosMethod: 'order-only' });
    expect(report.skipped).toHaveLength(1);
    expect(stderr).toMatch(/^vqlm: skipped .*truncated\.mp4: /m);
    const manifest = await readManifestJsonl(join(out, 'manifest.jsonl'));
    expect(manifest.map((e) => e.id)).toEqual(['realshort-s00', 'realshort-s00~h264-crf24', 'realshort-s00~h264-crf44']);
    expect(existsSync(join(out, 'descriptions.jsonl'))).toBe(true);

    const again = await run(['corpus', 'build', '--sources', sources, '--out', out, '--crf', '24:44:20']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/1 sources → 1 segments, 2 variants \(built 0, reused 3\)/);
  });

  it('rejects bad flags with a one-line error', async () => {
    const bad = await run(['corpus', 'build', '--sources', sources, '--out', join(root, 'x'), '--crf', 'abc']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("vqlm: crf must look like 15:53:2, got 'abc' [E_ARGUMENT]\n");
    const jobs = await run(['corpus', 'build', '--sources', sources, '--out', join(root, 'x'), '--jobs', '0']);
    expect(jobs.stderr).toBe("vqlm: --jobs must be a positive integer, got '0' [E_ARGUMENT]\n");
    const none = await run(['corpus', 'build', '--sources', join(root, 'nowhere'), '--out', join(root, 'x')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^vqlm: sources: cannot read directory .*nowhere.*\n$/);
  });
});
