import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelsDir } from '../__fixtures__/paths.js';
import { DatasetError } from '../errors.js';
import { loadLabels, parseLabels } from './load-labels.js';
import { createLabelLoaderRegistry, defaultLabelLoaders, LabelLoaderRegistry, lsvqTrainLoader } from './loaders.js';

const registry = createLabelLoaderRegistry();

const realFiles: [string, string, number, string][] = [
  ['lsvq-train', 'dover-LSVQ-labels.txt', 10759, '0-100'],
  ['lsvq-test', 'dover-LSVQ-labels_test.txt', 7186, '0-100'],
  ['lsvq-test-1080p', 'dover-LSVQ-labels_1080p.txt', 3573, '0-100'],
  ['konvid-1k', 'videval-KONVID_1K_metadata.csv', 1200, '1-5'],
  ['konvid-1k-dover', 'dover-KoNViD-labels.txt', 1200, '1-5'],
  ['live-vqc', 'videval-LIVE_VQC_metadata.csv', 585, '0-100'],
  ['live-vqc-dover', 'dover-LIVE_VQC-labels.txt', 585, '0-100'],
  ['youtube-ugc', 'videval-YOUTUBE_UGC_metadata.csv', 1380, '1-5'],
  ['youtube-ugc-dover', 'dover-YouTubeUGC-labels.txt', 1147, '1-5'],
  ['live-yt-gaming', 'gamival-LIVE-YT-Gaming_metadata.csv', 600, '0-100'],
];

describe('label loaders on the real files in ../shared/labels', () => {
  it.each(realFiles)('%s loads %s', async (id, file, count, scale) => {
    const set = await loadLabels(registry.get(id), join(labelsDir, file));
    expect(set.entries).toHaveLength(count);
    expect(set.missing).toEqual([]);
    for (const e of set.entries) {
      expect(e.mos?.scale).toBe(scale);
      expect(e.mos!.value).toBeGreaterThanOrEqual(1);
      expect(e.mos!.value).toBeLessThanOrEqual(5);
    }
    expect(registry.detect(file)?.id).toBe(id);
  });

  it('keeps the original MOS and maps 0–100 linearly onto 1–5', async () => {
    const set = await loadLabels(registry.get('live-vqc'), join(labelsDir, 'videval-LIVE_VQC_metadata.csv'));
    const a001 = set.entries.find((e) => e.id === 'A001')!;
    expect(a001.path).toBe('A001.mp4');
    expect(a001.mos).toEqual({ value: 1 + (4 * 80.232) / 100, original: 80.232, scale: '0-100' });
  });

  it('reads the same KoNViD-1k MOS from the VIDEVAL CSV and the DOVER lines', async () => {
    const csv = await loadLabels(registry.get('konvid-1k'), join(labelsDir, 'videval-KONVID_1K_metadata.csv'));
    const dover = await loadLabels(registry.get('konvid-1k-dover'), join(labelsDir, 'dover-KoNViD-labels.txt'));
    const byId = new Map(csv.entries.map((e) => [e.id, e.mos!.original]));
    const e = dover.entries.find((x) => x.id === '8171831850')!;
    expect(e.path).toBe('KoNViD_1k_videos/8171831850.mp4');
    expect(byId.get('8171831850')).toBeCloseTo(e.mos!.original, 6);
  });

  it('groups DOVER YouTube-UGC clips under their source vid', async () => {
    const set = await loadLabels(registry.get('youtube-ugc-dover'), join(labelsDir, 'dover-YouTubeUGC-labels.txt'));
    const e = set.entries[0];
    expect(e.id).toBe('Sports_2160P-4e9f_crf_10_ss_00_t_20.0');
    expect(e.sourceId).toBe('Sports_2160P-4e9f');
  });
});

describe('loadLabels with a video root', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vqlm-labels-'));
    await writeFile(join(root, 'A001.mp4'), 'x');
    await writeFile(join(root, 'A003.mp4'), 'x');
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('reports rows whose video is missing instead of failing', async () => {
    const set = await loadLabels(registry.get('live-vqc'), join(labelsDir, 'videval-LIVE_VQC_metadata.csv'), { videoRoot: root });
    expect(set.entries.map((e) => e.id)).toEqual(['A001', 'A003']);
    expect(set.missing).toHaveLength(583);
    expect(set.missing[0]).toEqual({ id: 'A002', path: 'A002.mp4', line: 3 });
  });

  it('keeps missing rows when asked', async () => {
    const set = await loadLabels(registry.get('live-vqc'), join(labelsDir, 'videval-LIVE_VQC_metadata.csv'), {
      videoRoot: root,
      keepMissing: true,
    });
    expect(set.entries).toHaveLength(585);
  });
});

describe('bad label files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-bad-labels-'));
    await mkdir(dir, { recursive: true });
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function load(loaderId: string, name: string, text: string) {
    const file = join(dir, name);
    await writeFile(file, text);
    return loadLabels(registry.get(loaderId), file);
  }

  it('rejects a CSV with a wrong header, naming file and line 1', async () => {
    const p = load('live-vqc', 'h.csv', 'Filename,Score\nA.mp4,50\n');
    await expect(p).rejects.toThrow(DatasetError);
    await expect(p).rejects.toThrow(/h\.csv:1: header lacks column 'File'/);
  });

  it('rejects a bad number, naming file and line', async () => {
    const p = load('live-vqc', 'n.csv', 'File,MOS\nA.mp4,50\nB.mp4,fifty\n');
    await expect(p).rejects.toThrow(/n\.csv:3: MOS 'fifty' is not a number/);
    await expect(load('lsvq-train', 'n.txt', 'a.mp4, -1, -1, 50\nb.mp4, x, -1, 50\n')).rejects.toThrow(
      /n\.txt:2: duration 'x' is not a number/,
    );
  });

  it('rejects a MOS outside the scale', async () => {
    await expect(load('konvid-1k', 'o.csv', 'flickr_id,mos\n1,3.2\n2,7.5\n')).rejects.toThrow(/o\.csv:3: MOS 7.5 is outside the scale 1-5/);
  });

  it('rejects duplicate ids, naming both lines', async () => {
    const p = load('lsvq-train', 'd.txt', 'a/1.mp4, -1, -1, 50\na/2.mp4, -1, -1, 40\na/1.mp4, -1, -1, 30\n');
    await expect(p).rejects.toMatchObject({ code: 'E_LABEL_DUPLICATE' });
    await expect(p).rejects.toThrow(/d\.txt:3: duplicate id 'a\/1' \(first on line 1\)/);
  });

  it('rejects an unknown scale, naming file and line', async () => {
    const p = load('vqlm-csv', 's.csv', 'path,mos,scale\na.mp4,3,1-5\nb.mp4,7,1-10\n');
    await expect(p).rejects.toMatchObject({ code: 'E_LABEL_SCALE' });
    await expect(p).rejects.toThrow(/s\.csv:3: unknown MOS scale '1-10'/);
  });

  it('accepts per-row scales in the generic CSV', async () => {
    const set = await load('vqlm-csv', 'ok.csv', 'path,mos,scale\nsub/a.mp4,3,1-5\nb.mp4,75,0-100\nc.mp4,4\n');
    expect(set.entries.map((e) => [e.id, e.mos!.value])).toEqual([
      ['sub/a', 3],
      ['b', 4],
      ['c', 4],
    ]);
  });

  it('rejects a path escaping the dataset root', async () => {
    await expect(load('lsvq-train', 'p.txt', 'a.mp4, -1, -1, 50\n../../etc/passwd, -1, -1, 50\n')).rejects.toThrow(
      /p\.txt:2: path '\.\.\/\.\.\/etc\/passwd' escapes the dataset root/,
    );
    await expect(load('live-vqc', 'abs.csv', 'File,MOS\n/etc/x.mp4,50\n')).rejects.toMatchObject({ code: 'E_LABEL_PATH' });
  });

  it('rejects a header line in a DOVER file and a wrong field count', async () => {
    await expect(load('lsvq-train', 'hd.txt', 'path, duration, fps, mos\n')).rejects.toThrow(/hd\.txt:1: DOVER label lines have no header/);
    await expect(load('lsvq-train', 'fc.txt', 'a.mp4, -1, 50\n')).rejects.toThrow(/fc\.txt:1: expected 4 fields/);
  });

  it('names an unreadable file', async () => {
    await expect(loadLabels(lsvqTrainLoader, join(dir, 'nope.txt'))).rejects.toThrow(/cannot read label file .*nope\.txt/);
  });

  it('parses text without touching the disk', () => {
    expect(parseLabels(lsvqTrainLoader, 'x/y.mp4, 8.0, 25, 62.5\n', 'mem')).toEqual([
      { id: 'x/y', path: 'x/y.mp4', sourceId: 'x/y', dataset: 'lsvq-train', mos: { value: 3.5, original: 62.5, scale: '0-100' } },
    ]);
  });
});

describe('LabelLoaderRegistry', () => {
  it('registers loaders explicitly and names the known ids for an unknown one', () => {
    const r = new LabelLoaderRegistry();
    expect(r.list()).toEqual([]);
    r.register(lsvqTrainLoader);
    expect(() => r.register(lsvqTrainLoader)).toThrow(/already registered/);
    expect(() => r.get('kadid')).toThrow(DatasetError);
    expect(() => r.get('kadid')).toThrow(/unknown dataset 'kadid' \(known: lsvq-train\)/);
    expect(createLabelLoaderRegistry().list()).toHaveLength(defaultLabelLoaders.length);
  });
});
