import { rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { BUNDLE_FILES, readBundleArchitecture, readManifestJson, writeBundleFile } from './bundle-io.js';
import { loadBundle, writeOnnxScoring, type OnnxScoringBundleFiles } from './bundle.js';
import { readEnsembleManifest } from './ensemble-bundle.js';
import { ModelError } from './errors.js';
import { loadLmmVqaBundle, writeLmmVqaOnnx } from './lmm-vqa-bundle.js';
import { lmmVqaOnnxBlocker, type LmmVqaOnnxFiles } from './lmm-vqa-onnx.js';

/** One bundle written by {@link exportBundleOnnx}. */
export interface ExportedBundle {
  /** The bundle directory (a member's, for an ensemble). */
  readonly dir: string;
  /** Its new `files.onnx` (CP-LLM's or LMM-VQA's). */
  readonly onnx: OnnxScoringBundleFiles | LmmVqaOnnxFiles<string>;
}

/**
 * Exports the scoring path of a saved bundle to ONNX in place, from its tfjs weights, as
 * {@link saveBundle} with `{ onnx: true }` does: for CP-LLM (every member of an ensemble bundle)
 * `pixel_encoder.onnx`, `quality_head.onnx`, `context_tower.onnx` and `decoder.onnx`; for LMM-VQA
 * `spatial_encoder.onnx`, `temporal_encoder.onnx`, `decoder.onnx` (with its hidden states) and
 * `level_head.onnx`. Then `model.json`, each file atomically; the other files of the bundle are
 * left as they are. Exports the new manifest no longer names (an older pixel-ViT-only export,
 * `files.onnx.pixelVit`) are removed. Scores then run in ONNX Runtime (`createScorer`'s `engine: 'auto'`).
 * @returns each bundle written
 * @throws ModelError from {@link loadBundle} / `loadLmmVqaBundle`; `E_MODEL_ARG` for an LMM-VQA
 *   decoder too large for one ONNX file.
 */
export async function exportBundleOnnx(dir: string): Promise<ExportedBundle[]> {
  const root = resolve(dir);
  const architecture = await readBundleArchitecture(root);
  if (architecture === 'lmm-vqa') return [await exportLmmVqa(root)];
  const dirs = architecture === 'cp-llm-ensemble' ? (await readEnsembleManifest(root)).members.map((member) => join(root, member)) : [root];
  const out: ExportedBundle[] = [];
  for (const bundle of dirs) out.push(await exportOne(bundle));
  return out;
}

async function exportLmmVqa(dir: string): Promise<ExportedBundle> {
  const json = (await readManifestJson(dir)) as { files: Record<string, unknown> };
  const { model } = await loadLmmVqaBundle(dir, { engine: 'tfjs' });
  let onnx: LmmVqaOnnxFiles<string> | null;
  try {
    onnx = await writeLmmVqaOnnx(model, dir);
  } finally {
    await model.dispose();
  }
  if (onnx === null) throw new ModelError('E_MODEL_ARG', `${dir}: ${lmmVqaOnnxBlocker(model) ?? 'no exports'}, so this bundle scores in tfjs`);
  await writeBundleFile(join(dir, BUNDLE_FILES.manifest), `${JSON.stringify({ ...json, files: { ...json.files, onnx } }, null, 2)}\n`);
  return { dir, onnx };
}

async function exportOne(dir: string): Promise<ExportedBundle> {
  const json = (await readManifestJson(dir)) as { files: Record<string, unknown> };
  const { model, manifest } = await loadBundle(dir, { engine: 'tfjs' });
  let onnx: OnnxScoringBundleFiles;
  try {
    onnx = await writeOnnxScoring(model, dir, manifest.files.contextTower);
  } finally {
    await model.dispose();
  }
  await writeBundleFile(join(dir, BUNDLE_FILES.manifest), `${JSON.stringify({ ...json, files: { ...json.files, onnx } }, null, 2)}\n`);
  // Exports of the previous manifest that the new one no longer references (the pixel ViT of
  // older writers; the context tower of a pixel-only model) are removed; a user's own ONNX
  // tower (files.contextTower) is never touched.
  const written: (string | undefined)[] = [onnx.contextTower, onnx.pixelEncoder, onnx.head, onnx.decoder];
  const kept = new Set<string | undefined>([...written, manifest.files.contextTower.path]);
  for (const old of Object.values(manifest.files.onnx ?? {})) {
    if (old && !isAbsolute(old) && !kept.has(old)) await rm(join(dir, old), { force: true });
  }
  return { dir, onnx };
}
