import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { DatasetError, lineError } from './errors.js';
import type { VariantRecipe } from './manifest.js';
import { mosLevel } from './mos-scale.js';

/** Who wrote a description. */
export const descriptionOrigins = ['human', 'mllm', 'generated'] as const;

/** One line of a descriptions JSONL file. */
export const descriptionRecordSchema = z
  .object({ id: z.string().min(1), text: z.string().min(1), origin: z.enum(descriptionOrigins) })
  .strict();

export type DescriptionRecord = z.infer<typeof descriptionRecordSchema>;

/**
 * Per-video quality descriptions (the targets of the token cross-entropy
 * loss), keyed by manifest id; stored as JSONL, one record per line.
 */
export class DescriptionStore {
  private readonly records = new Map<string, DescriptionRecord>();

  /** Parses JSONL text; errors name the file and line; a later line for the same id is an error. */
  static parse(text: string, file = '<descriptions>'): DescriptionStore {
    const store = new DescriptionStore();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw lineError('E_MANIFEST', file, i + 1, `invalid JSON (${(err as Error).message})`);
      }
      const parsed = descriptionRecordSchema.safeParse(value);
      if (!parsed.success) {
        throw lineError('E_MANIFEST', file, i + 1, parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; '));
      }
      if (store.records.has(parsed.data.id)) throw lineError('E_MANIFEST', file, i + 1, `duplicate id '${parsed.data.id}'`);
      store.records.set(parsed.data.id, parsed.data);
    });
    return store;
  }

  /** Reads a JSONL file. */
  static async load(path: string): Promise<DescriptionStore> {
    return DescriptionStore.parse(await readFile(path, 'utf8'), path);
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): DescriptionRecord | undefined {
    return this.records.get(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  /** Adds or replaces the record for `record.id`. */
  set(record: DescriptionRecord): void {
    const parsed = descriptionRecordSchema.safeParse(record);
    if (!parsed.success) {
      throw new DatasetError('E_ARGUMENT', `record: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    }
    this.records.set(record.id, parsed.data);
  }

  /** Records sorted by id. */
  list(): DescriptionRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** JSONL text, sorted by id. */
  toJsonl(): string {
    return this.list()
      .map((r) => `${JSON.stringify(r)}\n`)
      .join('');
  }

  /** Writes the store atomically (temp file + rename). */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.toJsonl());
  }
}

/** What is known about a video, for {@link describeVariant}. */
export interface DescribeInput {
  /** What the video shows, e.g. `a cockatoo in close-up`. */
  readonly content?: string;
  /** Its style, e.g. `computer-animated film`, `black-and-white silent film`. */
  readonly style?: string;
  /** How it was made from its source. */
  readonly recipe?: VariantRecipe;
  /** Full-reference scores against its source. */
  readonly fullReference?: { readonly psnr?: number; readonly ssim?: number; readonly vmaf?: number };
  /** Its MOS or pseudo-MOS on 1–5, if known. */
  readonly mos?: number;
}

function recipePhrase(recipe: VariantRecipe | undefined, parameters = true): string | undefined {
  if (!recipe) return undefined;
  const withParameter = (text: string, parameter: string): string => (parameters ? `${text} ${parameter}` : text);
  switch (recipe.kind) {
    case 'original':
      return 'it is the unaltered source clip';
    case 'h264':
      return withParameter('it was re-encoded with H.264', `at CRF ${recipe.crf ?? 'default'}`);
    case 'vp9':
      return withParameter('it was re-encoded with VP9', `at CRF ${recipe.crf ?? 'default'}`);
    case 'blur':
      return withParameter('it was blurred', `with a Gaussian of sigma ${recipe.sigma ?? 'unknown'}`);
    case 'noise':
      return parameters ? `noise of strength ${recipe.strength ?? 'unknown'} was added to it` : 'noise was added to it';
    case 'scale':
      return parameters ? `it was downscaled by a factor of ${recipe.factor ?? 'unknown'} and scaled back up` : 'it was downscaled and scaled back up';
  }
}

/**
 * One sentence on how a variant was made from its source, from its recipe alone: the target
 * `vqlm-train`'s describer phase teaches a decoder (`describer.target` `recipe`, or `distortion`
 * with `parameters: false`), shorter than {@link describeVariant}'s and with nothing a model cannot
 * see (no content, no scores).
 * @param options `parameters` (default true): name the CRF, sigma, strength or factor too.
 *
 * @example
 * describeRecipe({ kind: 'h264', crf: 31 }) // 'it was re-encoded with H.264 at CRF 31.'
 * describeRecipe({ kind: 'h264', crf: 31 }, { parameters: false }) // 'it was re-encoded with H.264.'
 */
export function describeRecipe(recipe: VariantRecipe, options: { readonly parameters?: boolean } = {}): string {
  const phrase = recipePhrase(recipe, options.parameters ?? true);
  if (phrase === undefined) throw new DatasetError('E_ARGUMENT', `recipe: expected a variant recipe, got ${JSON.stringify(recipe)}`);
  return `${phrase}.`;
}

function artefactPhrase(recipe: VariantRecipe | undefined, level: string): string {
  if (level === 'excellent' || level === 'good') return 'distortions are hard to see';
  const kind = recipe?.kind;
  const strong = level === 'bad';
  if (kind === 'h264' || kind === 'vp9') {
    return strong ? 'heavy blocking and smeared textures dominate' : 'blocking and loss of fine texture are visible';
  }
  if (kind === 'blur') return strong ? 'the picture is badly blurred' : 'edges and fine detail look soft';
  if (kind === 'noise') return strong ? 'strong noise covers the picture' : 'visible grain covers flat areas';
  if (kind === 'scale') return strong ? 'the picture is blocky and badly upscaled' : 'fine detail is lost to upscaling';
  return strong ? 'strong distortions are visible' : 'some distortions are visible';
}

function fmt(v: number, digits: number): string {
  return v.toFixed(digits);
}

/**
 * Writes an honest three-sentence description from what is known about a
 * video: (1) its content, (2) its style, (3) its technical quality from the
 * distortion recipe, full-reference scores and (pseudo-)MOS. What is not
 * known is said to be unknown, never invented.
 *
 * @example
 * describeVariant({ content: 'a cockatoo in close-up', recipe: { kind: 'h264', crf: 45 }, fullReference: { vmaf: 41.2 }, mos: 2.6 })
 * // 'The video shows a cockatoo in close-up. Its style is not labelled. Technically, it was re-encoded …'
 */
export function describeVariant(input: DescribeInput): string {
  const first = input.content ? `The video shows ${input.content.replace(/\.+$/, '')}.` : 'Its content is not labelled.';
  const second = input.style ? `Its style is ${input.style.replace(/\.+$/, '')}.` : 'Its style is not labelled.';
  const parts: string[] = [];
  const recipe = recipePhrase(input.recipe);
  if (recipe) parts.push(recipe);
  const fr = input.fullReference;
  const scores: string[] = [];
  if (fr?.vmaf !== undefined) scores.push(`VMAF ${fmt(fr.vmaf, 1)}`);
  if (fr?.psnr !== undefined) scores.push(`PSNR ${fmt(fr.psnr, 1)} dB`);
  if (fr?.ssim !== undefined) scores.push(`SSIM ${fmt(fr.ssim, 3)}`);
  if (scores.length > 0) parts.push(`against its source it scores ${scores.join(', ')}`);
  if (input.mos !== undefined) {
    if (!Number.isFinite(input.mos) || input.mos < 1 || input.mos > 5) {
      throw new DatasetError('E_ARGUMENT', `mos must be in [1, 5], got ${input.mos}`);
    }
    const level = mosLevel(input.mos);
    parts.push(`its quality is ${level} (${fmt(input.mos, 2)} on 1–5) and ${artefactPhrase(input.recipe, level)}`);
  } else if (parts.length === 0) {
    parts.push('its technical quality is not known');
  }
  const third = `Technically, ${parts.join('; ')}.`;
  return `${first} ${second} ${third}`;
}
