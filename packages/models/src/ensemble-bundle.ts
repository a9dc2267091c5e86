import { cp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { loadBundle, readBundleManifest, type BundleManifest, type LoadedBundle } from './bundle.js';
import { BUNDLE_FILES, BUNDLE_FORMAT_VERSION, PACKAGE_VERSION, manifestArchitecture, readManifestJson, writeBundleDir } from './bundle-io.js';
import { zodIssues } from './config.js';
import { ModelError } from './errors.js';

/** Sub-directory of an ensemble bundle that holds its members (`members/0`, `members/1`, …). */
export const ENSEMBLE_MEMBERS_DIR = 'members';

/** zod schema of an ensemble bundle's `model.json`. */
export const ensembleManifestSchema = z
  .object({
    format: z.literal('vqlm-model-bundle'),
    formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
    architecture: z.literal('cp-llm-ensemble'),
    /** Member bundle directories, relative to the ensemble's; the first one also describes. */
    members: z.array(z.string().min(1)).min(2),
    /** Free-form notes about the members (e.g. their seeds). */
    memberInfo: z.array(z.record(z.string(), z.unknown())).optional(),
    versions: z.record(z.string(), z.string()),
  })
  .strict();

/** Parsed ensemble `model.json`. */
export type EnsembleManifest = z.infer<typeof ensembleManifestSchema>;

/** Options of {@link saveEnsembleBundle}. */
export interface SaveEnsembleBundleOptions {
  /** One object per member, stored as `memberInfo` (e.g. `{ seed: 1 }`). */
  readonly memberInfo?: readonly Record<string, unknown>[];
}

/** A loaded ensemble: its members in order (the first one describes). */
export interface LoadedEnsemble {
  readonly members: readonly LoadedBundle[];
  readonly manifest: EnsembleManifest;
  readonly dir: string;
}

/**
 * The members must see the same M key frames, so that one decode of a video serves them all
 * (each member's views, K patches and view sizes, are cut from those frames).
 */
function checkSameKeyFrames(manifests: readonly { label: string; manifest: BundleManifest }[]): void {
  const [first, ...rest] = manifests;
  for (const { label, manifest } of rest) {
    if (manifest.config.m !== first.manifest.config.m) {
      throw new ModelError('E_BUNDLE_CONFIG', `${label}: config.m is ${manifest.config.m}, but ${first.label} has ${first.manifest.config.m}; the members of an ensemble must see the same key frames`);
    }
  }
}

/**
 * Writes an ensemble bundle: the CP-LLM bundles in `memberDirs` are copied to `members/<i>` of
 * `dir`, and `model.json` names them (`architecture: 'cp-llm-ensemble'`). Every member keeps its
 * own weights and calibration; {@link createScorer} averages their calibrated scores. The members
 * must share M (K, the view sizes and the branches may differ). Written atomically (a temporary directory renamed over `dir`).
 * @throws ModelError `E_MODEL_ARG` (fewer than two members), or a member's bundle error naming it.
 */
export async function saveEnsembleBundle(memberDirs: readonly string[], dir: string, options: SaveEnsembleBundleOptions = {}): Promise<void> {
  const dirs: readonly string[] = memberDirs;
  if (!Array.isArray(memberDirs) || memberDirs.length < 2) throw new ModelError('E_MODEL_ARG', `memberDirs: an ensemble needs at least 2 member bundles, got ${Array.isArray(memberDirs) ? memberDirs.length : String(memberDirs)}`);
  if (options.memberInfo && options.memberInfo.length !== memberDirs.length) {
    throw new ModelError('E_MODEL_ARG', `memberInfo: expected ${memberDirs.length} entries (one per member), got ${options.memberInfo.length}`);
  }
  const manifests: { label: string; manifest: BundleManifest }[] = [];
  for (const [i, member] of dirs.entries()) {
    const label = `member ${i} (${resolve(member)})`;
    try {
      manifests.push({ label, manifest: await readBundleManifest(member) });
    } catch (error) {
      throw new ModelError((error as ModelError).code ?? 'E_BUNDLE_CONFIG', `${label}: ${(error as Error).message}`, { cause: error });
    }
  }
  checkSameKeyFrames(manifests);
  const members = dirs.map((_, i) => `${ENSEMBLE_MEMBERS_DIR}/${i}`);
  const manifest: EnsembleManifest = {
    format: 'vqlm-model-bundle',
    formatVersion: BUNDLE_FORMAT_VERSION,
    architecture: 'cp-llm-ensemble',
    members,
    ...(options.memberInfo ? { memberInfo: options.memberInfo.map((info) => ({ ...info })) } : {}),
    versions: { '@vqlm/models': PACKAGE_VERSION },
  };
  await writeBundleDir(dir, async (tmp) => {
    for (const [i, member] of dirs.entries()) await cp(resolve(member), join(tmp, members[i]), { recursive: true });
    await writeFile(join(tmp, BUNDLE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

/**
 * Reads and validates an ensemble bundle's `model.json`, and each member's.
 * @throws ModelError `E_BUNDLE_IO` / `E_BUNDLE_CONFIG` naming the file or the member.
 */
export async function readEnsembleManifest(dir: string): Promise<EnsembleManifest & { memberManifests: BundleManifest[] }> {
  const root = resolve(dir);
  const json = await readManifestJson(root);
  const architecture = manifestArchitecture(json);
  if (architecture !== 'cp-llm-ensemble') throw new ModelError('E_BUNDLE_CONFIG', `${join(root, BUNDLE_FILES.manifest)}: architecture is '${architecture}', not 'cp-llm-ensemble'`);
  const parsed = ensembleManifestSchema.safeParse(json);
  if (!parsed.success) throw new ModelError('E_BUNDLE_CONFIG', zodIssues('model.json', parsed.error));
  const manifests: { label: string; manifest: BundleManifest }[] = [];
  for (const member of parsed.data.members) {
    const label = `${join(root, member)}`;
    if (resolve(root, member) === root || !resolve(root, member).startsWith(`${root}/`)) {
      throw new ModelError('E_BUNDLE_CONFIG', `model.json: members: '${member}' is not a directory inside ${root}`);
    }
    try {
      manifests.push({ label, manifest: await readBundleManifest(join(root, member)) });
    } catch (error) {
      throw new ModelError((error as ModelError).code ?? 'E_BUNDLE_CONFIG', `ensemble member ${label}: ${(error as Error).message}`, { cause: error });
    }
  }
  checkSameKeyFrames(manifests);
  return { ...parsed.data, memberManifests: manifests.map((m) => m.manifest) };
}

/**
 * Loads every member of an ensemble bundle ({@link loadBundle} each). `engine: 'auto'` takes ONNX
 * Runtime for each member that has ONNX exports.
 * @throws ModelError as {@link readEnsembleManifest} and {@link loadBundle}; members loaded before a failure are freed.
 */
export async function loadEnsembleBundle(dir: string, options: { readonly engine?: 'auto' | 'tfjs' | 'onnx' } = {}): Promise<LoadedEnsemble> {
  const root = resolve(dir);
  const manifest = await readEnsembleManifest(root);
  const members: LoadedBundle[] = [];
  try {
    for (const member of manifest.members) members.push(await loadBundle(join(root, member), { engine: options.engine ?? 'auto' }));
  } catch (error) {
    for (const loaded of members) await loaded.model.dispose();
    throw error;
  }
  const { memberManifests: _m, ...rest } = manifest;
  return { members, manifest: rest, dir: root };
}
