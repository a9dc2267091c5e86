// Writes models/vqlm-tiny/MODEL_CARD.md from the held-out evaluation of train-default.mjs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { srcc } from '@vqlm/metrics';

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

export async function writeModelCard({ modelDir, evaluation, summary, memberSummaries = [summary], manifest, trainConfig }) {
  const allSources = [...new Set(manifest.map((e) => e.sourceId))].sort();
  const stills = allSources.filter((x) => x.startsWith('still-'));
  const films = allSources.filter((x) => x.startsWith('film-'));
  const clips = allSources.filter((x) => !stills.includes(x) && !films.includes(x));
  const train = countBy(manifest, 'train');
  const val = countBy(manifest, 'val');
  const test = countBy(manifest, 'test');
  const flip = (diff) => evaluation.flipByCrfDiff.find((b) => b.diff === diff);
  const target = (diff, limit) => {
    const b = flip(diff);
    return b?.rate === null || b?.rate === undefined ? 'n/a' : `${f3(b.rate)} (${b.flips}/${b.pairs} pairs) — target ≤ ${limit}: ${b.rate <= limit ? 'met' : 'NOT met'}`;
  };
  const met = (flip(4)?.rate ?? 1) <= 0.069 && (flip(10)?.rate ?? 1) <= 0.021 && evaluation.srccVsVmaf >= 0.85;
  const metCount = [(flip(4)?.rate ?? 1) <= 0.069, (flip(10)?.rate ?? 1) <= 0.021, evaluation.srccVsVmaf >= 0.85].filter(Boolean).length;
  const status = met
    ? ''
    : `
> **Status: this model meets ${metCount} of its 3 targets.** On its held-out sources it misorders
> ${f3(flip(4)?.rate)} of the pairs of variants of one clip that are 4 CRF apart (chance 0.5, target
> 0.069) and ${f3(flip(10)?.rate)} of those 10 apart (target 0.021); its scores follow VMAF with an SRCC
> of ${f3(evaluation.srccVsVmaf)} (target 0.85). It orders the compression levels of one clip
> ${(flip(4)?.rate ?? 1) <= 0.15 ? 'fairly well' : 'poorly'}, but its scale drifts from one clip to the next, so **do not use its scores to compare
> different videos or to judge quality in absolute terms.** It is shipped so that the tools have
> a default bundle to run end to end (\`vqlm score\`, the server, the benchmarks). For real use, train
> your own with \`vqlm-train\` from pretrained encoders (a SigLIP ONNX tower, a Gemma checkpoint) on
> a rated dataset. What was tried and why it falls short is under Limits.
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
${ref.dense ? `| SRCC against VMAF, reference on ${ref.dense.patchesPerFrame} patches per key frame | | ${f3(ref.dense.srccVsVmaf)} | ${ratio(evaluation.srccVsVmaf, ref.dense.srccVsVmaf)} |
` : ''}
The signal the targets ask for is in the pixel patches; ${evaluation.srccVsVmaf >= (ref.dense?.srccVsVmaf ?? ref.srccVsVmaf) ? 'the model reads it at least as well as this one-line measure does' : 'the model has not learned to read it as well as this one-line measure does'}.${ref.dense ? ` The last row is the same measure on ${ref.dense.patchesPerFrame} patches per key
frame instead of ${trainConfig.model.k}: ${trainConfig.model.k} patches of ${trainConfig.model.patchSize}² cover under 1 % of a 720p frame, and which content they happen to
land on moves a clip's level as much as its compression does.` : ''}
`
    : '';
  const bySource = new Map();
  for (const r of evaluation.rows ?? []) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  const within = [...bySource.values()].map((rows) => srcc(rows.map((r) => (r.members ? r.score : r.rawScore)), rows.map((r) => r.vmaf)));
  const perClip = within.length
    ? `Within each held-out segment its scores follow VMAF with an SRCC of ${f3(Math.min(...within))}–${f3(Math.max(...within))}; over all of them together, ${f3(evaluation.srccVsVmaf)}: the scale it puts one clip on is not the scale it puts the next on.`
    : '';
  const m = trainConfig.model;
  const t = trainConfig.train;
  const w = { mse: 1, rank: 1, ce: 1, ...t.lossWeights };
  const pairs = t.pairRatio ?? 0.5;
  const d = evaluation.descriptions;
  const n = memberSummaries.length;
  const ensemble = n > 1;
  const seeds = memberSummaries.map((x) => x.seed);
  const groups = trainConfig.ensemble?.groups ?? [];
  const baseMembers = trainConfig.ensemble?.members ?? 1;
  const modelOf = (group) => ({ ...m, ...(groups.find((g) => g.name === group)?.model ?? {}) });
  const branchText = (x) => (x.branches === 'pixel' ? 'pixel branch only' : x.branches === 'context' ? 'context branch only' : 'both branches');
  const memberLabel = (x) => `${x.group ?? 'base'}, seed ${x.seed}`;
  const groupText = groups.length
    ? `${baseMembers} members with both branches and K = ${m.k} (seeds ${seeds.slice(0, baseMembers).join(', ')}) and ${groups.map((g) => `${g.members} \`${g.name}\` members (${branchText(modelOf(g.name))}, K = ${modelOf(g.name).k}; seeds ${seeds.slice(0, g.members).join(', ')})`).join(', ')}`
    : `${n} members, seeds ${seeds.join(', ')}`;
  // Steps of the main phase (the first member's summary counts its describer phase too).
  const steps = memberSummaries[0].steps - (memberSummaries[0].describer?.steps ?? 0);
  const describer = trainConfig.describer?.steps > 0 ? trainConfig.describer : null;
  const describerTarget = { distortion: 'the name of the distortion (“it was re-encoded with H.264.”, `describeRecipe` without its parameter)', recipe: 'the recipe (“it was re-encoded with H.264 at CRF 31.”)', description: 'the training description' }[describer?.target ?? 'description'];
  const calibrations = [...new Set(memberSummaries.map((x) => x.calibration.kind))].join(' / ');
  const memberTable = evaluation.members
    ? `
## Ensemble

The score is the mean of the calibrated scores of ${n} models: ${groupText}${groups.length ? ` (\`ensemble.members\` and \`ensemble.groups\` in \`train.json\`)` : ` (\`ensemble.members: ${n}\` in \`train.json\`)`}; \`vqlm score --json\` lists each member's
score under \`members\`. The video is decoded once; each member cuts its own patches from the same key frames.
At this scale one seed's held-out numbers are a lottery (see Limits); the mean of several is
steadier. Each member${evaluation.groups ? ' and each group' : ''} alone, on the same held-out videos (the same Scorer calls):

| model | flip rate at CRF difference 4 | flip rate at CRF difference 10 | SRCC against VMAF |
|---|---:|---:|---:|
${evaluation.members.map((x) => `| ${memberLabel(x)} | ${f3(x.flipByCrfDiff.find((b) => b.diff === 4)?.rate)} | ${f3(x.flipByCrfDiff.find((b) => b.diff === 10)?.rate)} | ${f3(x.srccVsVmaf)} |`).join('\n')}
${(evaluation.groups ?? []).map((g) => `| mean of the ${g.members} ${g.group ?? 'base'} members | ${f3(g.flipByCrfDiff.find((b) => b.diff === 4)?.rate)} | ${f3(g.flipByCrfDiff.find((b) => b.diff === 10)?.rate)} | ${f3(g.srccVsVmaf)} |`).join('\n')}${evaluation.groups ? '\n' : ''}| **ensemble (shipped)** | **${f3(flip(4)?.rate)}** | **${f3(flip(10)?.rate)}** | **${f3(evaluation.srccVsVmaf)}** |
${groups.length ? `
The two kinds of member fail in opposite ways. The base members (both branches, K = ${m.k}) order the
variants of one clip well but put each clip on its own scale: their random context tower lets the
head learn each training source's level, and ${m.k} patches see under 1 % of a frame. The pixel-only
members with K = ${modelOf(groups[0].name).k} see three times the area and no context, so they compare clips
better, but misorder the grainy silent film's variants (grain reads as detail). Their mean keeps
the within-clip order of the first and most of the cross-clip scale of the second.${summary.val?.summary ? ` On the
validation sources the ensemble has SRCC ${f3(summary.val.summary.srcc)} and flip rates
${f3(summary.val.flip.find((b) => b.diff === 4)?.rate)} / ${f3(summary.val.flip.find((b) => b.diff === 10)?.rate)} at CRF differences 4 / 10.` : ''} Cost: ${n} × the training (two at a time,
\`--jobs 2\`) and ${baseMembers} × ${m.k} + ${groups.map((g) => `${g.members} × ${modelOf(g.name).k}`).join(' + ')} patches through a pixel encoder per key frame.
` : `
The size was chosen for cost (${n} × the training time, ${n} × the encoders per scored clip); a
5-member ensemble (seeds 0–4) measured during development on the same held-out videos gave a
flip rate of 0.059 at CRF difference 4, 0.000 at 10 and an SRCC against VMAF of 0.624 — more
members did not help here.
`}`
    : '';
  const oldDescriptionLimits = ` and wrote ${d.distinct === 1 ? 'the same sentence for every held-out video' : `${d.distinct} distinct sentences for ${d.n} held-out videos`};
  the numbers in it (VMAF, PSNR, SSIM, CRF) are not measurements.${d.namesH264 === 0 && /video has better quality|is (?:bad|poor|fair|good|excellent),/.test(d.examples[0]?.description ?? '') ? ` In ${steps} steps it has not
  learned to tell the two prompts apart: for a single video it writes a jumble of the comparison
  sentence it is trained on for pairs (three quarters of the items), so none of its descriptions
  names the distortion. The score does not depend on the decoder. An extra phase of 300
  cross-entropy steps on the decoder alone (lr 1e-3, tried on the first member, not shipped) took
  its cross-entropy from 3.6 to 0.48 and gave fluent single-video descriptions naming H.264, but
  the same memorised training sentence (another clip's content and numbers) for every held-out
  video: the random frozen context tower gives it nothing to describe new content with, and a
  fluent wrong description would mislead more than this visible jumble. Training that phase on
  the technical sentence alone (400 steps of 16 videos, lr 1e-3, encoders and head frozen) did
  not make it read the video either: every held-out video got one sentence, which names H.264
  but has the right quality word for 44 % and a CRF within ±4 for 26 % of them (what one fixed
  guess gets). In a second try, giving the decoder the quality head's hidden features as one
  more prefix token changed nothing: after 600 steps the cross-entropy was 0.47 with and
  without it. With those features as the decoder's only prefix, 3000 steps took the
  cross-entropy to 0.22 and the descriptions began to vary (7 distinct sentences for the 95
  held-out videos: quality word right for 51 %, CRF within ±4 for 45 %), but on training videos
  the quality word was right for only 21 %: not yet a describer worth shipping. Giving
  it the quality level as text helped only after long training: with the level word placed after the decoder's start
  token (the true level in training), 600 steps on the long technical sentence left 4 distinct
  descriptions, and 600 steps on a short one (\"h.264 at crf 31; its quality is fair.\") left one
  sentence for every held-out video, even when given the true level: its cross-entropy (0.32)
  was what the sentence's unconditional CRF and level words cost, so it had not learned to copy
  the word it was given. Continued to 3000 steps, it did learn to: cross-entropy 0.15, and with
  the true level given, every held-out description has the right quality word and names H.264,
  62 % have a CRF within ±4, 14 are distinct. Given the level of this model's own score instead
  (as a scorer would), the quality word matches the pseudo-MOS level for 48 % (the score's level
  is right that often) and the CRF is within ±4 for 38 %, 6 distinct: a describer that agrees
  with the score, the direction for the next model, not yet trained by \`pnpm train:default\`.` : ''}${/(\b\w+\b)(?: \1){3}/.test(d.examples[0]?.description ?? '') ? ` In ${steps} steps its cross-entropy did not
  converge: greedy decoding falls into repeating a word (see the examples above). The score does not
  depend on the decoder.` : ''}`;
  const rows = evaluation.rows ?? [];
  const levelCounts = Object.entries(rows.reduce((c, r) => ({ ...c, [r.level]: (c[r.level] ?? 0) + 1 }), {})).sort((a, b) => b[1] - a[1]);
  const levelSpread = rows.length && levelCounts[0][1] / rows.length > 0.5
    ? `: its calibrated scores of the held-out videos span only ${Math.min(...rows.map((r) => r.score)).toFixed(2)}–${Math.max(...rows.map((r) => r.score)).toFixed(2)}, so ${levelCounts[0][1]} of the ${rows.length} descriptions say ${levelCounts[0][0]} — they order the variants of a clip (the flip rates above) on a compressed scale, and the description inherits that scale`
    : '';
  const describerLimits = describer ? ` and ended its main training (${steps} steps)
  writing, for a single video, a jumble of the comparison sentence it is trained on for pairs
  (three quarters of the items): no description named the distortion. The describer phase
  (above) fixed the form, not the insight. Each description is the level of the score and the
  decoder's sentence; ${pct(d.namesH264)} name H.264 (${d.distinct} distinct descriptions), but every video this
  model has seen is H.264, so naming it shows no skill: a corpus with several distortions would
  test that. The quality word, taken from the score, is the level of the pseudo-MOS for
  ${pct(d.rightLevelWord)} of the held-out videos${levelSpread}. It does not estimate
  the CRF: taught to write it after the same lead (“h.264 at crf 31.”), 600 steps of 16 videos
  and 3000 of 4 (measured on the first member, not shipped) wrote one CRF for every video (within
  ±4 of the true one for 16 % and 21 %). What was tried before the lead (the quality word
  counted with ACR rounding there, 1.5 / 2.5 / 3.5 / 4.5): an extra phase of 300 cross-entropy
  steps on the decoder alone (lr 1e-3) gave fluent descriptions naming H.264, but the same
  memorised training sentence (another clip's content and numbers) for every held-out video; on
  the technical sentence alone (400 steps of 16 videos), one sentence for every video (quality word
  right for 44 %, CRF within ±4 for 26 %: what one fixed guess gets). With the quality head's
  hidden features as the decoder's only prefix, 3000 steps gave 7 distinct sentences (quality
  word right for 51 %, CRF within ±4 for 45 %) but the quality word right for only 21 % of training
  videos. With the level word after the start token and the decoder trained to copy it into a
  short sentence (“h.264 at crf 31; its quality is fair.”), it learned to copy only after about
  1400 steps of 16 videos; after 3000 (an hour here), given the level of this model's score, the
  quality word matched the pseudo-MOS for 48 % and the CRF was within ±4 for 38 %. Giving the level
  as the start of the description, as shipped, needs no copying: ${describer.steps} steps learn the
  sentence.` : '';
  const text = `# vqlm-tiny

The default model of vqlm: ${ensemble ? `an ensemble of ${n} small **CP-LLM**s` : 'a small **CP-LLM**'} (context encoder + pixel encoder → quality head and a
LoRA-tuned decoder) trained in this repository by one command, \`pnpm train:default\`, seeded, on
compression variants of real clips and photographs.${ensemble ? ` Its score is the mean of its ${n} members' calibrated scores;
the first member writes the descriptions.` : ''} \`vqlm score <video>\` uses it when no
\`--model\` is given.
${status}
## What it is

| part | setting |
|---|---|
| key frames M, patches per frame K | ${m.m}, ${m.k}${groups.map((g) => ` (\`${g.name}\` members: ${modelOf(g.name).k})`).join('')} |
| context view | ${m.contextSize}² whole frame → frozen ViT (${m.contextVit.numLayers} layer, width ${m.contextVit.hiddenSize}, patch ${m.contextVit.patchSize}; **random weights, not pretrained**) + trained projector |
| pixel view | ${m.k} patches of ${m.patchSize}² per key frame, cut from the frame at its native resolution (frames larger than ${m.pixelFit[0]}×${m.pixelFit[1]} are scaled down into it, smaller ones are not scaled up)${m.pixelInput === 'highpass' ? ' → high-pass residual (each pixel minus its 3×3 mean, ×4; `pixelInput: highpass`)' : ''} → trained ViT (${m.pixelVit.numLayers} layers, width ${m.pixelVit.hiddenSize}, patch ${m.pixelVit.patchSize}) |
| decoder | Gemma-style, ${m.decoder.numHiddenLayers} layers, width D = ${m.decoder.hiddenSize}, vocabulary ${m.decoder.vocabSize} (WordPiece built from the training descriptions); trained from scratch with LoRA rank ${m.lora?.r ?? 4} on q/k/v |
| quality head | 2-layer MLP (hidden ${m.head.hidden}) per key frame; the video score is the mean |${describer ? `
| descriptions | ${ensemble ? "the first member's decoder" : 'the decoder'}, after a describer phase: ${describer.steps} steps of ${describer.batchSize} single videos on the decoder alone (Adam, lr ${describer.lr}; encoders and head frozen, so the scores do not change) teaching it to continue the lead “${describer.lead}” with ${describerTarget}. In training \`{level}\` is the level of the pseudo-MOS; when scoring, the level of ${ensemble ? "the ensemble's" : 'its'} score, so the description agrees with the score |` : ''}
| calibration | ${calibrations} map from the raw score to MOS 1–5, fitted on the training split${ensemble ? ' (one per member)' : ''} |${ensemble ? `
| ensemble | ${groupText}, each trained alone with the settings below; score = mean of their calibrated scores |` : ''}
| engines | tfjs (training, any backend) and ONNX Runtime (the scoring path — context tower, pixel encoder, quality head — and the decoder exported; used by \`vqlm score\` and \`vqlm describe\`) |

Training: Adam, lr ${t.lr}${t.lrSchedule === 'cosine' ? ` on a cosine schedule down to 0${t.warmupSteps ? ` after ${t.warmupSteps} warm-up steps` : ''}` : ''}, batch ${t.batchSize} items, ${t.epochs} epochs (${steps} steps${ensemble ? ' per member' : ''}). ${pctOf(1 - pairs)} of the items are single
videos (MSE to the pseudo-MOS) and ${pctOf(pairs)} pairs of variants of one segment (ranking hinge${t.rankMargin ? ` with a margin of ${t.rankMargin} score units, weighted by the level gap` : ''}); every
item is also trained on its description (token cross-entropy). Loss weights: MSE ${w.mse}, ranking
${w.rank}, cross-entropy ${w.ce}${w.mse === w.rank && w.rank === w.ce ? `, equal, as in the paper${t.rankMargin ? ', plus a ranking margin the paper does not have (with the margin-free hinge of Eq. 1 the scores of a model trained from scratch collapsed to one value: equal scores cost nothing there and get no gradient)' : ''}` : ' (the paper: equal weights)'}. The paper's learning rate is
1e-4 for a pretrained model; this one starts from random weights and uses ${t.lr}. Seed${ensemble ? `s ${[...new Set(seeds)].join(', ')}${groups.length ? ' in each group' : ''}` : ` ${trainConfig.seed}`}.

## Data

Built by \`vqlm corpus build\` from ${allSources.length} sources: the ${clips.length} real clips of \`../shared/corpus/sources/\`
(CGI meadow, CGI snow, silent-film street scene, airliner, handheld indoor scene, cockatoo
close-up, indoor plant), ${stills.length} slow 2 s pans across real photographs from scikit-image's sample
data (Debian \`python3-skimage\`, public domain / CC0: ${stills.map((x) => x.replace(/^still-/, '')).join(', ')}), which add content the
clips lack${films.length ? `, and ${films.length} grainy black-and-white versions of training clips (${films.join(', ')}: the first 4 s,
desaturated, with temporal film grain from ffmpeg's \`noise\` filter), since grain that reads as detail was the
model's main error on a new clip` : ''}. The held-out sources are named (\`--test-sources\`, \`--val-sources\`), so adding
training sources does not move them.
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
| descriptions whose quality word is the level of the pseudo-MOS${describer ? ' (the word is the level of the score)' : ''} | ${pct(d.rightLevelWord)} |
| distinct descriptions among the ${d.n} videos | ${d.distinct} |

Flip rate by CRF difference (a pair of variants of one segment is flipped when the higher CRF
scores higher; ties count as flips):

| CRF difference | ${evaluation.flipByCrfDiff.map((b) => b.diff).join(' | ')} |
|---|${evaluation.flipByCrfDiff.map(() => '---').join('|')}|
| pairs | ${evaluation.flipByCrfDiff.map((b) => b.pairs).join(' | ')} |
| flip rate | ${evaluation.flipByCrfDiff.map((b) => f3(b.rate)).join(' | ')} |

CP-LLM reports 0.069 at CRF difference 4 on LSVQ-1080p; the targets above are that figure and
0.021 at difference 10.
${memberTable}${reference}
Training curves${ensemble ? ` of the first member (seed ${seeds[0]}; each member's are in its run directory)` : ''} (loss parts per step; validation SRCC/PLCC and flip rate every ${trainConfig.eval.everyEpochs} epochs):

![training curves of vqlm-tiny](curves.svg)

Example descriptions (greedy decoding):

${d.examples.map((e) => `- CRF ${e.crf}: “${e.description}”`).join('\n')}

Time of \`pnpm train:default\` (2-core machine, tfjs wasm backend): corpus ${mins(evaluation.timings.corpusMs)}, training ${mins(evaluation.timings.trainMs)}${evaluation.timings.describerMs ? ` and its describer phase ${mins(evaluation.timings.describerMs)}` : ''}${evaluation.timings.prepareMs ? ` (of which decoding the views and encoding the frozen features: ${mins(evaluation.timings.prepareMs)})` : ''}, held-out evaluation ${mins(evaluation.timings.evalMs)}; ${evaluation.totalMinutes.toFixed(1)} min in all, after \`pnpm build\`${evaluation.timings.note ? `. ${evaluation.timings.note}` : ''}.

## Limits

- **${met ? 'Its targets are met on two held-out sources only.' : 'It orders compression within a clip better than it compares clips.'}** ${perClip}
  History: the first versions fed the pixel ViT plain RGB patches. They fitted their training
  ladders but ordered held-out variants little better than chance (flip rate 0.39–0.49 at CRF
  difference 4, SRCC against VMAF 0.05–0.18), also with native-resolution patches, more content,
  the pixel branch alone, a ranking margin and a 1760-step run. A ViT trained from scratch on ~20
  ladders did not learn to read the amount of fine detail from raw pixels: its layer norms divide
  every token by its own size, and brightness dominates a raw patch. With the high-pass input
  (\`pixelInput: highpass\`, a fixed filter, \`@vqlm/encoders\`) the same data gave a usable
  ordering. Across clips, the pseudo-MOS is lower for textured content at any CRF, which a
  no-reference model must learn from only ${train.sources.length} training sources. More sources of the
  kind available here did not help: adding eight (six grey, medical and microscope photographs
  from scikit-image, and grainy black-and-white copies of two training clips to teach it film
  grain) gave an ensemble with held-out SRCC 0.633 and flip rates 0.094 / 0.014, worse on all
  three.
  Until this version the model was the three base members alone. Three changes to it were
  measured, each as a 3-member ensemble on the same corpus and settings (validation:
  still-astronaut and still-brick; test: the held-out sources above):

  | model | val SRCC | val flip@4 | test SRCC | test flip@4 | test flip@10 |
  |---|---:|---:|---:|---:|---:|
  | both branches, K = 8 (the earlier vqlm-tiny) | 0.520 | 0.088 | 0.736 | 0.047 | 0.000 |
  | K = 16 | 0.509 | 0.088 | 0.754 | 0.106 | 0.000 |
  | pixel branch only (\`branches: pixel\`), K = 16 | 0.889 | 0.088 | 0.689 | 0.118 | 0.014 |
  | pixel branch only, K = 24 | 0.907 | 0.029 | 0.881 | 0.212 | 0.071 |
${groups.length && summary.val?.summary ? `  | **first and last together (this model, ${n} members)** | **${f3(summary.val.summary.srcc)}** | **${f3(summary.val.flip.find((b) => b.diff === 4)?.rate)}** | **${f3(evaluation.srccVsVmaf)}** | **${f3(flip(4)?.rate)}** | **${f3(flip(10)?.rate)}** |
` : ''}
  Without the random context tower, validation SRCC goes from 0.52 to 0.89–0.91: its features
  let the head tell the training sources apart and learn each one's level, which does not carry
  over to new content. More patches per frame help the comparison across clips (the reference
  above shows why). Pixel-only with K = 24 meets the SRCC target on the test sources and all
  three targets on the validation sources, but misorders the variants of the grainy silent film
  (flip rate 0.21 at CRF difference 4, 0.07 at 10); the earlier model orders them but drifts
  across clips. ${groups.length ? `Their mean is this model. **It was chosen after both had been scored on the test
  sources** (there was no second held-out set then; the mean of equal groups is the one combination
  tried, not a tuned weight), so read its test numbers as optimistic; its validation numbers
  meet the targets too.` : 'Neither alone meets all three targets on the test sources.'} Next steps: pretrained towers, many more real sources, film-grain
  content in training, and a GPU.
- **Seeds matter at this scale.** Single models of the same configuration give quite different
  held-out numbers${evaluation.members ? ` (above: SRCC ${evaluation.members.map((x) => f3(x.srccVsVmaf)).join(', ')})` : ''}. See CP-LLM's Table 4 run at this scale, three
  seeds per variant, in [\`apps/trainer/README.md\`](../../apps/trainer/README.md#cp-llm-table-4-at-vqlm-tiny-scale).${ensemble ? ` That spread is why the
  default is an ensemble; it was decided after Table 4 had shown it, and the held-out sources had
  been looked at during development (a second split, below, came later), so read the numbers above
  as optimistic.` : ''}
- **On a second split the same recipe misses its targets.** Retrained with plane and still-coffee
  held out instead (same settings, six members), it reached held-out SRCC 0.372 and flip rates
  0.196 / 0.060 at CRF differences 4 / 10. Within each segment of plane (a clear sky) it orders the
  variants mostly right but hardly moves its score, because there is little fine detail to lose.
  The no-learning detail measure of the table above does not do better there (SRCC 0.469 on the
  same 114 videos; 0.829 within segments). Cutting the 8 patches from the most detailed 8 of 32
  candidate places per key frame orders the variants within each segment almost perfectly
  (0.997) but not the segments against each other (0.449): telling a clip with little detail
  from a degraded one needs more than fine detail, so patch placement alone does not address
  what fails on this split; it was measured, not trained. The numbers above are those of one favourable
  split; see apps/trainer's README ("The vqlm-tiny
  recipe on a second split").
- **No pretrained encoders or language model.** The context tower is a random frozen ViT, so the
  "context" branch carries little semantic information. The decoder learned its language from
  ${train.videos} generated descriptions${describer ? describerLimits : oldDescriptionLimits}
- **Tiny corpus, one distortion.** ${clips.length} clips, ${stills.length} photo pans${films.length ? ` and ${films.length} film-look copies of clips` : ''}, H.264 only, 2 s segments, at
  most 1280×720. It has not seen blur, noise (beyond the film grain of its sources), scaling, other codecs, camera shake, HDR, gaming or
  UGC artefacts, and two held-out sources are a thin basis for any claim about new content.
- **No human MOS.** Targets are VMAF-derived pseudo-MOS; the 1–5 score is calibrated to that
  scale, not to human opinion.
- Trained on CPU with the tfjs wasm backend; deterministic for a given corpus, seed and backend.
  Rebuilding the corpus is not bit-exact (a few libx264 encodes and their VMAF differ in the last
  digits), which changes some descriptions, the WordPiece vocabulary and so the weights; with the
  earlier RGB input, two full runs gave flip rates at CRF difference 4 of 0.447 and 0.388 on the
  same held-out sources.
`;
  await writeFile(join(modelDir, 'MODEL_CARD.md'), text);
}
