/** One labelled row as read from a label file, before normalisation. */
export interface RawLabelRow {
  /** 1-based line in the file. */
  readonly line: number;
  /** Unique id of the video within the dataset. */
  readonly id: string;
  /** Video path relative to the dataset's video root (POSIX separators). */
  readonly path: string;
  /** The source the video comes from (same as `id` unless the dataset has variants). */
  readonly sourceId: string;
  /** MOS on the file's own scale. */
  readonly mos: number;
  /** Scale id when the row names its own (generic CSV), else the loader's. */
  readonly scale?: string;
}

/** Parses the text of one label file into raw rows; throws naming file and line. */
export interface LabelFormat {
  /** Format id, e.g. `dover-lines`, `csv`. */
  readonly id: string;
  parse(text: string, file: string): RawLabelRow[];
}

/**
 * A dataset label loader as data: which format its files use and which MOS
 * scale they are on. Loaders are registered explicitly in a
 * `LabelLoaderRegistry` (nothing registers itself on import).
 */
export interface LabelLoader {
  /** Registry key, e.g. `lsvq-train`, `konvid-1k`. */
  readonly id: string;
  /** Human name of the dataset, e.g. `LSVQ`. */
  readonly dataset: string;
  /** Split the file holds as the dataset's authors define it, if any. */
  readonly officialSplit?: 'train' | 'test';
  /** MOS scale of the file (a key of `MOS_SCALES`). */
  readonly scale: string;
  readonly format: LabelFormat;
  /** File names under which the label file is commonly distributed. */
  readonly knownFiles: readonly string[];
  readonly description: string;
}
