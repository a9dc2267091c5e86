import { rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { BUNDLE_FILES, readBundleArchitecture, readManifestJson, writeBundleFile } from './bundle-io.js';
import { loadBundle, writeOnnxScoring, type OnnxScoringBundleFiles } from './bundle.js';
import { readEnsembleManifest } from './ensemble-bundle.js';
import { ModelError } from './errors.js';

/** One bundle written by {@link exportBundleOnnx}. */
export interface ExportedBundle {
  /** The CP-LLM bundle directory (a member's, for an ensemble). */
  readonly dir: string;
  /** Its new `files.onnx`. */
  readonly onnx: OnnxScoringBundleFiles;
}

/**
 * Exports the scoring path of a saved CP-LLM bundle (every member of an ensemble bundle) to ONNX
 * in place, from its tfjs weights: writes `pixel_encoder.onnx`, `quality_head.onnx`,
 * `context_tower.onnx` and `decoder.onnx` as {@link saveBundle} with `{ onnx: true }` does, then `model.json`,
 * each file atomically; the other files of the bundle are left as they are. Exports the new
 * manifest no longer names (an older pixel-ViT-only export, `files.onnx.pixelVit`) are removed. Scores then run in ONNX Runtime
 * (`createScorer`'s `engine: 'auto'`).
 * @returns each bundle written
 * @throws ModelError from {@link loadBundle}; `E_MODEL_ARG` for an LMM-VQA bundle (it has no ONNX path).
 */
export async function exportBundleOnnx(dir: string): Promise<ExportedBundle[]> {
  const root = resolve(dir);
  const architecture = await readBundleArchitecture(root);
  if (architecture === 'lmm-vqa') throw new ModelError('E_MODEL_ARG', `${root}: an LMM-VQA bundle has no ONNX scoring path (CP-LLM only)`);
  const dirs = architecture === 'cp-llm-ensemble' ? (await readEnsembleManifest(root)).members.map((member) => join(root, member)) : [root];
  const out: ExportedBundle[] = [];
  for (const bundle of dirs) out.push(await exportOne(bundle));
  return out;
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
