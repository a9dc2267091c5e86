import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import {
  formatManifestCsv,
  parseManifestCsv,
  parseManifestJsonl,
  readManifest,
  validateManifest,
  writeManifestCsv,
  writeManifestJsonl,
  type ManifestEntry,
} from './manifest.js';

const entries: ManifestEntry[] = [
  {
    id: 'clip~original',
    path: 'segments/clip.mp4',
    sourceId: 'clip',
    dataset: 'vqlm-corpus',
    split: 'train',
    mos: { value: 3.5, original: 62.5, scale: '0-100' },
    variant: { level: 0, recipe: { kind: 'original' } },
    segment: { start: 0, duration: 2 },
    description: 'A clip, with a comma and "quotes".',
  },
  {
    id: 'clip~h264-crf33',
    path: 'variants/clip~h264-crf33.mp4',
    sourceId: 'clip',
    referenceId: 'clip~original',
    split: 'train',
    variant: { level: 2, recipe: { kind: 'h264', crf: 33, ffmpegArgs: ['-c:v', 'libx264', '-crf', '33', '-vf', 'a=b,c'] } },
    pseudoMos: { method: 'vmaf-anchored', value: 2.75, anchor: 3.5 },
    fullReference: { psnr: 34.25, ssim: 0.925, vmaf: 70 },
  },
  { id: 'b', path: 'b.mp4', sourceId: 'b', variant: { level: 1, recipe: { kind: 'blur', sigma: 1.5 } }, pseudoMos: { method: 'order-only' } },
];

describe('manifest JSONL and CSV', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-manifest-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('round-trips entries through JSONL and CSV files', async () => {
    await writeManifestJsonl(join(dir, 'm.jsonl'), entries);
    await writeManifestCsv(join(dir, 'm.csv'), entries);
    expect(await readManifest(join(dir, 'm.jsonl'))).toEqual(entries);
    expect(await readManifest(join(dir, 'm.csv'))).toEqual(entries);
    expect((await readdir(dir)).sort()).toEqual(['m.csv', 'm.jsonl']);
    const csv = await readFile(join(dir, 'm.csv'), 'utf8');
    expect(csv.split('\n')[0]).toMatch(/^id,path,source_id,reference_id,dataset,split,mos,mos_original,mos_scale,level,recipe,crf/);
  });

  it('names file and line for invalid JSONL rows', () => {
    expect(() => parseManifestJsonl('{"id":"a","path":"a","sourceId":"a"}\n{bad', 'x.jsonl')).toThrow(/x\.jsonl:2: invalid JSON/);
    expect(() => parseManifestJsonl('{"id":"a","path":"a"}', 'x.jsonl')).toThrow(/x\.jsonl:1: sourceId: Required/);
    expect(() => parseManifestJsonl('{"id":"a","path":"a","sourceId":"a","mos":{"value":7,"original":7,"scale":"1-5"}}', 'x.jsonl')).toThrow(
      /x\.jsonl:1: mos\.value/,
    );
    const dup = '{"id":"a","path":"a","sourceId":"a"}\n\n{"id":"a","path":"b","sourceId":"a"}\n';
    expect(() => parseManifestJsonl(dup, 'x.jsonl')).toThrow(DatasetError);
    expect(() => parseManifestJsonl(dup, 'x.jsonl')).toThrow(/x\.jsonl:3: duplicate id 'a'/);
  });

  it('names file and line for invalid CSV rows and headers', () => {
    const good = formatManifestCsv(entries);
    const bad = good.replace('34.25', 'abc');
    expect(() => parseManifestCsv(bad, 'y.csv')).toThrow(/y\.csv:3: column psnr: 'abc' is not a number/);
    expect(() => parseManifestCsv('name,path\na,b\n', 'y.csv')).toThrow(/y\.csv:1: header lacks column 'id'/);
    expect(() => parseManifestCsv(good.replace(',h264,', ',h265,'), 'y.csv')).toThrow(/y\.csv:3: variant\.recipe\.kind/);
  });

  it('validates in memory', () => {
    expect(() => validateManifest([{ id: '', path: 'a', sourceId: 'a' }], 'mem')).toThrow(/mem:1: id/);
    expect(validateManifest(entries)).toEqual(entries);
  });
});
