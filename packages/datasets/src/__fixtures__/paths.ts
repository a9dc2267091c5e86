import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `packages/datasets/src/__fixtures__/paths.ts`). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
/** `<repo>/../shared`: real label files, source clips and the VMAF model, read-only. */
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const labelsDir = join(sharedDir, 'labels');
export const sourcesDir = join(sharedDir, 'corpus', 'sources');
export const vmafModel = join(sharedDir, 'vmaf', 'vmaf_v0.6.1.pkl');
