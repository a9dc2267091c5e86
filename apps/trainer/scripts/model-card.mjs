// Writes models/vqlm-tiny/MODEL_CARD.md from the held-out evaluation of train-default.mjs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const f3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(3));
const pct = (x) => `${(100 * x).toFixed(1)} %`;
const mins = (ms) => (typeof ms === 'number' ? `${(ms / 60000).toFixed(1)} min` : 'not measured');
const pctOf = (x) => `${Math.round(100 * x)} %`;
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : '— (reference 0)');

function countBy(manifest, split) {
  const entries = manifest.filter((e) => e.split === split);
  const sources = [...new Set(entries.map((e) => e.sourceId))].sort();
  const ladders = new Set(entries.map((e) => e.referenceId ?? e.sourceId)).size;
  return { sources, ladders, videos: entries.length };
}

export async function writeModelCard({ modelDir, evaluation, summary, manifest, trainConfig }) {
  const train = countBy(manifest, 'train');
  const val = countBy(manifest, 'val');
  const test = countBy(manifest, 'test');
  const flip = (diff) => evaluation.flipByCrfDiff.find((b) => b.diff === diff);
  const target = (diff, limit) => {
    const b = flip(diff);
    return b?.rate === null || b?.rate === undefined ? 'n/a' : `${f3(b.rate)} (${b.flips}/${b.pairs} pairs) — target ≤ ${limit}: ${b.rate <= limit ? 'met' : 'NOT met'}`;
  };
  const met = (flip(4)?.rate ?? 1) <= 0.069 && (flip(10)?.rate ?? 1) <= 0.021 && evaluation.srccVsVmaf >= 0.85;
  const status = met
    ? ''
    : `
> **Status: this model does not meet its targets.** On its held-out sources it misorders
> ${f3(flip(4)?.rate)} of the pairs of variants of one clip that are 4 CRF apart (chance 0.5, target
> 0.069) and ${f3(flip(10)?.rate)} of those 10 apart (target 0.021); its scores follow VMAF with an SRCC
> of ${f3(evaluation.srccVsVmaf)} (target 0.85). It
> is shipped so that the tools have a default bundle to run end to end (\`vqlm score\`, the server,
> the benchmarks); **do not use its scores to judge video quality.** Train your own with
> \`vqlm-train\` from pretrained encoders (a SigLIP ONNX tower, a Gemma checkpoint) on a rated
> dataset. What was tried and why it falls short is under Limits.
`;
  const ref = evaluation.reference;
  const refFlip = (diff) => ref?.flipByCrfDiff.find((b) => b.diff === diff)?.rate;
  const reference = ref
    ? `
A reference without learning, measured in the same run on the same videos: ${ref.name}. Fine detail
is what compression removes, so within one clip this number falls as the CRF rises; across clips it
mostly measures how textured the content is.

| measure | vqlm-tiny | reference | vqlm-tiny / reference |
|---|---|---|---|
| flip rate at CRF difference 4 | ${f3(flip(4)?.rate)} | ${f3(refFlip(4))} | ${ratio(flip(4)?.rate, refFlip(4))} |
| flip rate at CRF difference 10 | ${f3(flip(10)?.rate)} | ${f3(refFlip(10))} | ${ratio(flip(10)?.rate, refFlip(10))} |
| SRCC against VMAF | ${f3(evaluation.srccVsVmaf)} | ${f3(ref.srccVsVmaf)} | ${ratio(evaluation.srccVsVmaf, ref.srccVsVmaf)} |

The signal the targets ask for is in the pixel patches; the model has not learned to read it as
well as this one-line measure does.
`
    : '';
  const m = trainConfig.model;
  const t = trainConfig.train;
  const w = { mse: 1, rank: 1, ce: 1, ...t.lossWeights };
  const pairs = t.pairRatio ?? 0.5;
  const d = evaluation.descriptions;
  const text = `# vqlm-tiny

The default model of vqlm: a small **CP-LLM** (context encoder + pixel encoder → quality head and a
LoRA-tuned decoder) trained in this repository by one command, \`pnpm train:default\`, seeded, on
compression variants of real clips and photographs. \`vqlm score <video>\` uses it when no
\`--model\` is given.
${status}
## What it is

| part | setting |
|---|---|
| key frames M, patches per frame K | ${m.m}, ${m.k} |
| context view | ${m.contextSize}² whole frame → frozen ViT (${m.contextVit.numLayers} layer, width ${m.contextVit.hiddenSize}, patch ${m.contextVit.patchSize}; **random weights, not pretrained**) + trained projector |
| pixel view | ${m.k} patches of ${m.patchSize}² per key frame, cut from the frame at its native resolution (frames larger than ${m.pixelFit[0]}×${m.pixelFit[1]} are scaled down into it, smaller ones are not scaled up) → trained ViT (${m.pixelVit.numLayers} layers, width ${m.pixelVit.hiddenSize}, patch ${m.pixelVit.patchSize}) |
| decoder | Gemma-style, ${m.decoder.numHiddenLayers} layers, width D = ${m.decoder.hiddenSize}, vocabulary ${m.decoder.vocabSize} (WordPiece built from the training descriptions); trained from scratch with LoRA rank ${m.lora?.r ?? 4} on q/k/v |
| quality head | 2-layer MLP (hidden ${m.head.hidden}) per key frame; the video score is the mean |
| calibration | ${summary.calibration.kind} map from the raw score to MOS 1–5, fitted on the training split |
| engines | tfjs (training, any backend) and ONNX Runtime (both vision towers exported; used by \`vqlm score\`) |

Training: Adam, lr ${t.lr}, batch ${t.batchSize} items, ${t.epochs} epochs (${summary.steps} steps). ${pctOf(1 - pairs)} of the items are single
videos (MSE to the pseudo-MOS) and ${pctOf(pairs)} pairs of variants of one segment (ranking hinge${t.rankMargin ? ` with a margin of ${t.rankMargin} score units, weighted by the level gap` : ''}); every
item is also trained on its description (token cross-entropy). Loss weights: MSE ${w.mse}, ranking
${w.rank}, cross-entropy ${w.ce}${w.mse === w.rank && w.rank === w.ce && !t.rankMargin ? ', equal, as in the paper' : ` (the paper: equal weights and no margin; see Limits for why this model differs)`}. The paper's learning rate is
1e-4 for a pretrained model; this one starts from random weights and uses ${t.lr}. Seed ${trainConfig.seed}.

## Data

Built by \`vqlm corpus build\` from 16 sources: the 7 real clips of \`../shared/corpus/sources/\`
(CGI meadow, CGI snow, silent-film street scene, airliner, handheld indoor scene, cockatoo
close-up, indoor plant) and 9 slow 2 s pans across real photographs from scikit-image's sample
data (Debian \`python3-skimage\`, public domain / CC0: astronaut, coffee, cat, motorcycle, Hubble
deep field, rocket, and grey grass, gravel and brick textures), which add content the clips lack.
Clips are cut into 2 s segments; each segment is encoded with H.264 (libx264, preset medium) at
CRF 15, 17, …, 51 (19 levels). Labels: VMAF v0.6.1 of each variant against its segment, mapped to a pseudo-MOS
(\`1 + 4·VMAF/100\`, forced non-increasing along the ladder); descriptions generated from the
recipe, the full-reference scores and the level (\`@vqlm/datasets\` \`describeVariant\`).
Split by source, so no frame of a held-out source is seen in training:

| split | sources | segments | videos |
|---|---|---|---|
| train | ${train.sources.join(', ')} | ${train.ladders} | ${train.videos} |
| validation (model selection, plots) | ${val.sources.join(', ')} | ${val.ladders} | ${val.videos} |
| test (held out; the numbers below) | ${test.sources.join(', ')} | ${test.ladders} | ${test.videos} |

## Results on the held-out source${evaluation.heldOutSources.length > 1 ? 's' : ''} (${evaluation.heldOutSources.join(', ')}; ${evaluation.videos} variants in ${evaluation.ladders} ladders)

Scored with the shipped bundle through the public \`Scorer\` (\`@vqlm/models\`), the same path as
\`vqlm score\`; numbers from \`eval.json\` beside this card.

| measure | value |
|---|---|
| flip rate at CRF difference 4 | ${target(4, 0.069)} |
| flip rate at CRF difference 10 | ${target(10, 0.021)} |
| SRCC against VMAF | ${f3(evaluation.srccVsVmaf)} — target ≥ 0.85: ${evaluation.srccVsVmaf >= 0.85 ? 'met' : 'NOT met'} |
| PLCC against VMAF (after a 4-parameter logistic fit) | ${f3(evaluation.plccVsVmaf)} |
| SRCC against the pseudo-MOS | ${f3(evaluation.srccVsPseudoMos)} |
| descriptions naming the distortion (H.264) | ${pct(d.namesH264)} |
| descriptions whose CRF is within ±4 of the true one | ${pct(d.crfWithin4)} |
| descriptions with the right quality word | ${pct(d.rightLevelWord)} |
| distinct descriptions among the ${d.n} videos | ${d.distinct} |

Flip rate by CRF difference (a pair of variants of one segment is flipped when the higher CRF
scores higher; ties count as flips):

| CRF difference | ${evaluation.flipByCrfDiff.map((b) => b.diff).join(' | ')} |
|---|${evaluation.flipByCrfDiff.map(() => '---').join('|')}|
| pairs | ${evaluation.flipByCrfDiff.map((b) => b.pairs).join(' | ')} |
| flip rate | ${evaluation.flipByCrfDiff.map((b) => f3(b.rate)).join(' | ')} |

CP-LLM reports 0.069 at CRF difference 4 on LSVQ-1080p; the targets above are that figure and
0.021 at difference 10.
${reference}
Training curves (loss parts per step; validation SRCC/PLCC and flip rate every ${trainConfig.eval.everyEpochs} epochs):

![training curves of vqlm-tiny](curves.svg)

Example descriptions (greedy decoding):

${d.examples.map((e) => `- CRF ${e.crf}: “${e.description}”`).join('\n')}

Time of \`pnpm train:default\` (2-core machine, tfjs wasm backend): corpus ${mins(evaluation.timings.corpusMs)}, training ${mins(evaluation.timings.trainMs)}${evaluation.timings.prepareMs ? ` (of which decoding the views and encoding the frozen features: ${mins(evaluation.timings.prepareMs)})` : ''}, held-out evaluation ${mins(evaluation.timings.evalMs)}; ${evaluation.totalMinutes.toFixed(1)} min in all, after \`pnpm build\`${evaluation.timings.note ? `. ${evaluation.timings.note}` : ''}.

## Limits

- **It has not learned to see compression on new content.** It fits its training ladders (the
  ranking part of the loss falls steadily), but on held-out sources it orders variants little
  better than chance, while the one-line reference above orders every held-out pair 4 or more CRF
  apart correctly. What was tried, each run checked on the validation sources: pixel patches at
  native resolution, more content (the nine photo pans), pairs ordered by CRF level, the pixel
  branch alone, and then, once training ran 7× faster (a tfjs-wasm attention fix in
  \`@vqlm/encoders\`), a 1760-step run (32 epochs). With the paper's equal weights and no margin,
  the scores collapsed to the mean (the ranking hinge of Eq. 1 is zero, with a zero gradient, when
  all scores are equal), so this model uses a ranking margin, an MSE weight of 0.1 and 75 % pairs.
  The 32-epoch run did no better on validation than the same settings at 4 epochs (flip rate at
  CRF difference 4: 0.38 against 0.32), so 4 epochs are the default. Likely causes: a 2-layer ViT trained from scratch
  on about 20 ladders memorises its training clips, and a pseudo-MOS that is lower for textured
  content at any CRF rewards "less texture", the opposite of what compression does within a clip.
  Next steps: pretrained towers, many more ladders, and a GPU.
- **No pretrained encoders or language model.** The context tower is a random frozen ViT, so the
  "context" branch carries little semantic information. The decoder learned its language from
  ${train.videos} generated descriptions and wrote ${d.distinct === 1 ? 'the same sentence for every held-out video' : `${d.distinct} distinct sentences for ${d.n} held-out videos`};
  the numbers in it (VMAF, PSNR, SSIM, CRF) are not measurements.${/(\b\w+\b)(?: \1){3}/.test(d.examples[0]?.description ?? '') ? ` In ${summary.steps} steps its cross-entropy did not
  converge: greedy decoding falls into repeating a word (see the examples above). The score does not
  depend on the decoder.` : ''}
- **Tiny corpus, one distortion.** Seven clips and nine photo pans, H.264 only, 2 s segments, at
  most 1280×720. It has not seen blur, noise, scaling, other codecs, camera shake, HDR, gaming or
  UGC artefacts, and two held-out sources are a thin basis for any claim about new content.
- **No human MOS.** Targets are VMAF-derived pseudo-MOS; the 1–5 score is calibrated to that
  scale, not to human opinion.
- Trained on CPU with the tfjs wasm backend; deterministic for a given corpus, seed and backend.
  Rebuilding the corpus is not bit-exact (a few libx264 encodes and their VMAF differ in the last
  digits), which changes some descriptions, the WordPiece vocabulary and so the weights: two full
  runs of \`pnpm train:default\` on this machine gave flip rates at CRF difference 4 of 0.447 and
  0.388 on the same held-out sources.
`;
  await writeFile(join(modelDir, 'MODEL_CARD.md'), text);
}
