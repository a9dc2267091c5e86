/**
 * Parts shared by `vqlm eval` and `vqlm flip-rate`: scoring the entries of a
 * manifest (progress on stderr, bad videos reported and skipped) and turning
 * scored variants into flip-rate samples.
 */
import { isAbsolute, resolve } from 'node:path';
import type { FlipUnit, ManifestEntry } from '@vqlm/datasets';
import type { FlipBucket, FlipSample } from '@vqlm/metrics';
import type { Scorer } from '@vqlm/models';
import { formatError } from './cli-error.js';
import { createProgress } from './output.js';

// Flip-rate samples: originals and lone variants left out, CRF when every variant has one.
export { flipSamples, type FlipUnit } from '@vqlm/datasets';

/** A manifest entry and the score given to it. */
export interface ScoredEntry {
  readonly entry: ManifestEntry;
  readonly score: number;
}

/** An entry that could not be scored, as printed in `--json` reports. */
export interface FailedEntry {
  readonly id: string;
  readonly path: string;
  readonly error: string;
}

/** Reports a failed entry as one line on stderr and returns its record. */
export function reportFailure(entry: ManifestEntry, error: unknown): FailedEntry {
  const failed = { id: entry.id, path: entry.path, error: formatError(error) };
  process.stderr.write(`vqlm: ${entry.id} (${entry.path}): ${failed.error}\n`);
  return failed;
}

/**
 * Scores `entries` (paths relative to `root`) one by one with a progress bar
 * labelled `label`; an entry that fails is reported on stderr and skipped.
 */
export async function scoreEntries(scorer: Scorer, entries: readonly ManifestEntry[], root: string, label: string): Promise<{ scored: ScoredEntry[]; failed: FailedEntry[] }> {
  const progress = createProgress(entries.length, label);
  const scored: ScoredEntry[] = [];
  const failed: FailedEntry[] = [];
  try {
    for (const entry of entries) {
      const path = isAbsolute(entry.path) ? entry.path : resolve(root, entry.path);
      try {
        scored.push({ entry, score: (await scorer.score(path)).score });
      } catch (err) {
        failed.push(reportFailure(entry, err));
      }
      progress.increment(1, entry.id);
    }
  } finally {
    progress.stop();
  }
  return { scored, failed };
}

/** Every level difference that occurs within a ladder, ascending. */
export function levelDiffs(samples: readonly FlipSample[]): number[] {
  const diffs = new Set<number>();
  for (const a of samples) {
    for (const b of samples) {
      if (a.sourceId === b.sourceId && b.level > a.level) diffs.add(b.level - a.level);
    }
  }
  return [...diffs].sort((x, y) => x - y);
}

/** The text lines of a flip-rate table (`  <diff>: <rate> (<flips>/<pairs> pairs)`), with a heading. */
export function formatFlipLines(unit: FlipUnit, buckets: readonly FlipBucket[]): string[] {
  if (buckets.length === 0) return ['flip rate: no ladder with two or more scored variants'];
  return [`flip rate by ${unit === 'crf' ? 'CRF' : 'level'} difference:`, ...buckets.map((b) => `  ${b.diff}: ${b.rate === null ? '–' : b.rate.toFixed(4)} (${b.flips}/${b.pairs} pairs)`)];
}
