import { DatasetError } from '../errors.js';
import { csvLabelFormat, doverLinesFormat } from './formats.js';
import type { LabelLoader } from './label-loader.js';

const dover = doverLinesFormat();

/** `Sports_2160P-4e9f_crf_10_ss_00_t_20.0` → `Sports_2160P-4e9f` (DOVER's YouTube-UGC clips). */
function youtubeUgcSource(id: string): string {
  const base = id.slice(id.lastIndexOf('/') + 1);
  const at = base.indexOf('_crf_');
  return at > 0 ? base.slice(0, at) : base;
}

/** LSVQ train labels (DOVER line format, MOS 0–100). */
export const lsvqTrainLoader: LabelLoader = {
  id: 'lsvq-train',
  dataset: 'LSVQ',
  officialSplit: 'train',
  scale: '0-100',
  format: dover,
  knownFiles: ['dover-LSVQ-labels.txt', 'labels.txt'],
  description: 'LSVQ training set, DOVER line format `path, duration, fps, MOS` (0–100)',
};

/** LSVQ test labels (DOVER line format, MOS 0–100). */
export const lsvqTestLoader: LabelLoader = {
  ...lsvqTrainLoader,
  id: 'lsvq-test',
  officialSplit: 'test',
  knownFiles: ['dover-LSVQ-labels_test.txt', 'labels_test.txt'],
  description: 'LSVQ test set, DOVER line format (0–100)',
};

/** LSVQ test-1080p labels (DOVER line format, MOS 0–100). */
export const lsvqTest1080pLoader: LabelLoader = {
  ...lsvqTrainLoader,
  id: 'lsvq-test-1080p',
  officialSplit: 'test',
  knownFiles: ['dover-LSVQ-labels_1080p.txt', 'labels_1080p.txt'],
  description: 'LSVQ test-1080p set, DOVER line format (0–100)',
};

/** KoNViD-1k, VIDEVAL metadata CSV (`flickr_id,mos,…`, MOS 1–5); videos `<flickr_id>.mp4`. */
export const konvid1kLoader: LabelLoader = {
  id: 'konvid-1k',
  dataset: 'KoNViD-1k',
  scale: '1-5',
  format: csvLabelFormat({ idColumn: 'flickr_id', mosColumn: 'mos', pathFromId: (id) => `${id}.mp4` }),
  knownFiles: ['KONVID_1K_metadata.csv', 'videval-KONVID_1K_metadata.csv'],
  description: 'KoNViD-1k, VIDEVAL CSV `flickr_id,mos` (1–5)',
};

/** KoNViD-1k, DOVER line format (MOS 1–5). */
export const konvid1kDoverLoader: LabelLoader = {
  id: 'konvid-1k-dover',
  dataset: 'KoNViD-1k',
  scale: '1-5',
  format: doverLinesFormat({ idFromPath: (p) => p.slice(p.lastIndexOf('/') + 1).replace(/\.[^.]+$/, '') }),
  knownFiles: ['dover-KoNViD-labels.txt'],
  description: 'KoNViD-1k, DOVER line format (1–5)',
};

/** LIVE-VQC, VIDEVAL metadata CSV (`File,MOS,…`, MOS 0–100). */
export const liveVqcLoader: LabelLoader = {
  id: 'live-vqc',
  dataset: 'LIVE-VQC',
  scale: '0-100',
  format: csvLabelFormat({ idColumn: 'File', mosColumn: 'MOS' }),
  knownFiles: ['LIVE_VQC_metadata.csv', 'videval-LIVE_VQC_metadata.csv'],
  description: 'LIVE-VQC, VIDEVAL CSV `File,MOS` (0–100)',
};

/** LIVE-VQC, DOVER line format (MOS 0–100). */
export const liveVqcDoverLoader: LabelLoader = {
  id: 'live-vqc-dover',
  dataset: 'LIVE-VQC',
  scale: '0-100',
  format: doverLinesFormat({ idFromPath: (p) => p.slice(p.lastIndexOf('/') + 1).replace(/\.[^.]+$/, '') }),
  knownFiles: ['dover-LIVE_VQC-labels.txt'],
  description: 'LIVE-VQC, DOVER line format (0–100)',
};

/**
 * YouTube-UGC, VIDEVAL metadata CSV (`vid,…,MOSFull,…`). `MOSFull` is on the
 * 1–5 ACR scale (observed range 1.24–4.70); videos `<vid>.mkv` as the
 * dataset distributes its originals.
 */
export const youtubeUgcLoader: LabelLoader = {
  id: 'youtube-ugc',
  dataset: 'YouTube-UGC',
  scale: '1-5',
  format: csvLabelFormat({ idColumn: 'vid', mosColumn: 'MOSFull', pathFromId: (id) => `${id}.mkv`, idFromCell: (c) => c }),
  knownFiles: ['YOUTUBE_UGC_metadata.csv', 'videval-YOUTUBE_UGC_metadata.csv'],
  description: 'YouTube-UGC, VIDEVAL CSV `vid,…,MOSFull` (1–5)',
};

/** YouTube-UGC, DOVER line format (re-encoded 20 s clips, MOS 1–5); source id is the `vid`. */
export const youtubeUgcDoverLoader: LabelLoader = {
  id: 'youtube-ugc-dover',
  dataset: 'YouTube-UGC',
  scale: '1-5',
  format: doverLinesFormat({ sourceFromId: youtubeUgcSource }),
  knownFiles: ['dover-YouTubeUGC-labels.txt'],
  description: 'YouTube-UGC, DOVER line format (1–5)',
};

/** LIVE-YT-Gaming, GAMIVAL metadata CSV (`File,MOS,…`, MOS 0–100). */
export const liveYtGamingLoader: LabelLoader = {
  id: 'live-yt-gaming',
  dataset: 'LIVE-YT-Gaming',
  scale: '0-100',
  format: csvLabelFormat({ idColumn: 'File', mosColumn: 'MOS' }),
  knownFiles: ['LIVE-YT-Gaming_metadata.csv', 'gamival-LIVE-YT-Gaming_metadata.csv'],
  description: 'LIVE-YT-Gaming, GAMIVAL CSV `File,MOS` (0–100)',
};

/** vqlm's own label CSV: `path,mos[,scale]`; rows without `scale` use `1-5`. */
export const vqlmCsvLoader: LabelLoader = {
  id: 'vqlm-csv',
  dataset: 'custom',
  scale: '1-5',
  format: csvLabelFormat({ idColumn: 'path', mosColumn: 'mos', scaleColumn: 'scale' }),
  knownFiles: [],
  description: 'generic CSV `path,mos[,scale]` (scale per row: 1-5, 0-100, 0-1)',
};

/** Every loader vqlm ships, in the order `list()` shows them. */
export const defaultLabelLoaders: readonly LabelLoader[] = [
  lsvqTrainLoader,
  lsvqTestLoader,
  lsvqTest1080pLoader,
  konvid1kLoader,
  konvid1kDoverLoader,
  liveVqcLoader,
  liveVqcDoverLoader,
  youtubeUgcLoader,
  youtubeUgcDoverLoader,
  liveYtGamingLoader,
  vqlmCsvLoader,
];

/** Dataset id → loader. Register loaders explicitly; nothing registers on import. */
export class LabelLoaderRegistry {
  private readonly loaders = new Map<string, LabelLoader>();

  /** Adds `loader`; throws `E_ARGUMENT` if its id is taken. */
  register(loader: LabelLoader): this {
    if (this.loaders.has(loader.id)) {
      throw new DatasetError('E_ARGUMENT', `loader '${loader.id}' is already registered`);
    }
    this.loaders.set(loader.id, loader);
    return this;
  }

  /** The loader for `id`; throws `E_UNKNOWN_LOADER` listing the known ids. */
  get(id: string): LabelLoader {
    const loader = this.loaders.get(id);
    if (!loader) {
      throw new DatasetError('E_UNKNOWN_LOADER', `unknown dataset '${id}' (known: ${[...this.loaders.keys()].join(', ')})`);
    }
    return loader;
  }

  has(id: string): boolean {
    return this.loaders.has(id);
  }

  list(): LabelLoader[] {
    return [...this.loaders.values()];
  }

  /** The loader whose `knownFiles` contains `fileName`, if any. */
  detect(fileName: string): LabelLoader | undefined {
    const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
    return this.list().find((l) => l.knownFiles.includes(base));
  }
}

/** A registry holding `loaders` (default: {@link defaultLabelLoaders}). */
export function createLabelLoaderRegistry(loaders: readonly LabelLoader[] = defaultLabelLoaders): LabelLoaderRegistry {
  const registry = new LabelLoaderRegistry();
  for (const loader of loaders) registry.register(loader);
  return registry;
}
