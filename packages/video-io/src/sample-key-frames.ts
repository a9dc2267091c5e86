import { Writable } from 'node:stream';
import { VideoIOError } from './errors.js';
import { runFfmpeg, runFfprobe } from './ffmpeg-runner.js';
import { checkInputFile } from './input-path.js';
import { probe } from './probe.js';
import type { KeyFrames, SampleKeyFramesOptions, VideoInfo } from './types.js';

/** Default time limit of one decoding run. */
export const DEFAULT_DECODE_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_PIXELS = 8192 * 8192;

/**
 * The frame indices {@link sampleKeyFrames} takes: the centre of each of M
 * equal parts of the N frames, `index_j = floor((j + 0.5) · N / M)` for
 * `j = 0..M-1`. First and last frames (fades, black leaders) are avoided;
 * when N < M some frames are taken more than once.
 */
export function keyFrameIndices(frameCount: number, m: number): number[] {
  if (!Number.isInteger(m) || m < 1)
    throw new VideoIOError('E_ARGUMENT', `m must be an integer ≥ 1, got ${m}`);
  if (!Number.isInteger(frameCount) || frameCount < 1) {
    throw new VideoIOError('E_ARGUMENT', `frameCount must be an integer ≥ 1, got ${frameCount}`);
  }
  return Array.from({ length: m }, (_, j) =>
    Math.min(frameCount - 1, Math.floor(((j + 0.5) * frameCount) / m)),
  );
}

function matrixOf(info: VideoInfo): string {
  switch (info.colorSpace) {
    case 'bt709':
      return 'bt709';
    case 'bt2020nc':
    case 'bt2020c':
      return 'bt2020';
    case 'smpte240m':
      return 'smpte240m';
    case 'bt470bg':
    case 'smpte170m':
      return 'bt601';
    default:
      // untagged: the usual convention, HD and larger are BT.709
      return info.height >= 720 ? 'bt709' : 'bt601';
  }
}

const zimgTransfer: Record<string, string> = {
  smpte2084: 'smpte2084',
  'arib-std-b67': 'arib-std-b67',
};

/**
 * The filters turning decoded frames into 8-bit sRGB-ish RGB of the output
 * size: colour conversion (tone-mapped for HDR), square pixels, rotation.
 */
export function conversionFilters(info: VideoInfo): string[] {
  const filters: string[] = [];
  const [outH, outW] = info.outputSize;
  const squareW = info.rotation % 180 === 0 ? outW : outH;
  const squareH = info.rotation % 180 === 0 ? outH : outW;
  const range = info.colorRange === 'pc' ? 'pc' : 'tv';
  if (info.hdr) {
    // HDR (PQ/HLG) → linear light → BT.709 primaries → Hable tone map → BT.709 SDR, full-range RGB
    const tin = zimgTransfer[info.colorTransfer];
    const min = info.colorSpace === 'bt2020c' ? '2020_cl' : '2020_ncl';
    const pin =
      info.colorPrimaries === 'bt2020' || info.colorPrimaries === 'unknown'
        ? '2020'
        : info.colorPrimaries;
    filters.push(
      `zscale=tin=${tin}:min=${min}:pin=${pin}:rin=${range === 'pc' ? 'full' : 'limited'}:t=linear:npl=100`,
      'format=gbrpf32le',
      'zscale=p=bt709',
      'tonemap=tonemap=hable:desat=0',
      'zscale=t=bt709:m=bt709:r=full',
      'format=rgb24',
    );
    if (squareW !== info.width) filters.push(`scale=w=${squareW}:h=${squareH}:flags=bicubic`);
  } else {
    filters.push(
      `scale=w=${squareW}:h=${squareH}:flags=bicubic+accurate_rnd+full_chroma_int:in_color_matrix=${matrixOf(info)}:in_range=${range}:out_range=pc`,
      'format=rgb24',
    );
  }
  if (info.rotation === 90) filters.push('transpose=clock');
  else if (info.rotation === 270) filters.push('transpose=cclock');
  else if (info.rotation === 180) filters.push('hflip', 'vflip');
  return filters;
}

/** A Writable that fills a preallocated buffer, reports each completed frame, and fails on overflow. */
class FrameSink extends Writable {
  received = 0;
  constructor(
    private readonly target: Uint8Array,
    private readonly frameBytes: number,
    private readonly onFrame?: (slot: number) => void,
  ) {
    super();
  }
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.received + chunk.length > this.target.length) {
      callback(new Error(`ffmpeg produced more than the expected ${this.target.length} bytes`));
      return;
    }
    this.target.set(chunk, this.received);
    const before = Math.floor(this.received / this.frameBytes);
    this.received += chunk.length;
    const after = Math.floor(this.received / this.frameBytes);
    try {
      for (let slot = before; slot < after; slot++) this.onFrame?.(slot);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}

/** Receives decoded frames as they arrive (used to overlap view computation with decoding). */
export interface FrameConsumer {
  /** A (new) decoding attempt of `count` distinct frames of `height × width` pixels starts. */
  begin(count: number, height: number, width: number): void;
  /** Distinct frame `slot` is complete in `frame` (`[H, W, 3]`). */
  frame(slot: number, frame: Uint8Array): void;
}

interface DecodeContext {
  url: string;
  label: string;
  info: VideoInfo;
  timeoutMs: number;
  signal?: AbortSignal;
  consumer?: FrameConsumer;
}

/** One pass: decode the stream, keep frames whose index is in `unique` (sorted), convert only those. */
async function decodeBySelect(
  ctx: DecodeContext,
  unique: number[],
  target: Uint8Array,
): Promise<{ got: number; times: number[] }> {
  const frameBytes = ctx.info.outputSize[0] * ctx.info.outputSize[1] * 3;
  const sink = new FrameSink(target, frameBytes, (slot) =>
    ctx.consumer?.frame(slot, target.subarray(slot * frameBytes, (slot + 1) * frameBytes)),
  );
  const times: number[] = [];
  const select = `select='${unique.map((i) => `eq(n\\,${i})`).join('+')}'`;
  await runFfmpeg({
    inputs: [{ source: ctx.url, options: ['-loglevel', 'info', '-noautorotate'] }],
    outputOptions: [
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-vf',
      [select, ...conversionFilters(ctx.info), 'showinfo'].join(','),
      '-vsync',
      'passthrough',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
    ],
    output: sink,
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    label: ctx.label,
    failureCode: 'E_DECODE',
    onStderrLine: (line) => {
      const match = /\[Parsed_showinfo[^\]]*\].*\bpts_time:\s*(-?[\d.]+|nan)/i.exec(line);
      if (match) times.push(Number(match[1]));
    },
  });
  return { got: Math.floor(sink.received / frameBytes), times };
}

/** Presentation timestamps (seconds, relative to the container start) of every video packet, sorted. */
async function frameTimes(ctx: DecodeContext): Promise<number[]> {
  const result = await runFfprobe(
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time:format=start_time',
      '-of',
      'json',
      ctx.url,
    ],
    { timeoutMs: ctx.timeoutMs, signal: ctx.signal, label: ctx.label },
  );
  if (result.exitCode !== 0)
    throw new VideoIOError(
      'E_DECODE',
      `cannot list frames of ${ctx.label}: ${result.stderr.trim()}`,
    );
  const parsed = JSON.parse(result.stdout) as {
    packets?: { pts_time?: string }[];
    format?: { start_time?: string };
  };
  const start = Number(parsed.format?.start_time ?? 0) || 0;
  return (parsed.packets ?? [])
    .map((p) => Number(p.pts_time))
    .filter((t) => Number.isFinite(t))
    .sort((a, b) => a - b)
    .map((t) => t - start);
}

/** M accurate seeks: one ffmpeg run per unique index, each decoding from the previous key frame. */
async function decodeBySeek(
  ctx: DecodeContext,
  unique: number[],
  target: Uint8Array,
): Promise<{ got: number; times: number[] }> {
  const frameBytes = ctx.info.outputSize[0] * ctx.info.outputSize[1] * 3;
  const times = await frameTimes(ctx);
  const got: number[] = [];
  for (const [slot, index] of unique.entries()) {
    if (index >= times.length) break;
    // aim half a frame early so rounding in the printed timestamps cannot skip the frame
    const previous = index > 0 ? times[index - 1] : times[index] - 0.001;
    const seek = Math.max(0, (times[index] + previous) / 2);
    const frame = target.subarray(slot * frameBytes, (slot + 1) * frameBytes);
    const sink = new FrameSink(frame, frameBytes, () => ctx.consumer?.frame(slot, frame));
    await runFfmpeg({
      inputs: [
        {
          source: ctx.url,
          options: ['-loglevel', 'error', '-noautorotate', '-ss', seek.toFixed(6)],
        },
      ],
      outputOptions: [
        '-map',
        '0:v:0',
        '-an',
        '-sn',
        '-dn',
        '-frames:v',
        '1',
        '-vf',
        conversionFilters(ctx.info).join(','),
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
      ],
      output: sink,
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      label: ctx.label,
      failureCode: 'E_DECODE',
    });
    if (sink.received !== frameBytes) break;
    got.push(times[index]);
  }
  return { got: got.length, times: got };
}

/** Counts decodable frames by decoding the whole stream (slow; only used when the container's count was wrong). */
async function countDecodedFrames(ctx: DecodeContext): Promise<number> {
  const result = await runFfprobe(
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-count_frames',
      '-show_entries',
      'stream=nb_read_frames',
      '-of',
      'json',
      ctx.url,
    ],
    { timeoutMs: ctx.timeoutMs, signal: ctx.signal, label: ctx.label },
  );
  try {
    return (
      Number(
        (JSON.parse(result.stdout) as { streams?: { nb_read_frames?: string }[] }).streams?.[0]
          ?.nb_read_frames ?? 0,
      ) || 0
    );
  } catch {
    return 0;
  }
}

/** What the decoding loop hands back: distinct frames and how the M key frames map onto them. */
export interface DecodedKeyFrames {
  /** Distinct decoded frames, `[U, H, W, 3]`. */
  decoded: Uint8Array;
  /** For each of the M key frames, its slot in `decoded`. */
  slots: number[];
  indices: number[];
  timestamps: number[];
  info: VideoInfo;
  frameBytes: number;
}

/** Decodes the distinct key frames of `path`, feeding `consumer` as they arrive. */
export async function decodeKeyFrames(
  path: string,
  options: SampleKeyFramesOptions,
  consumer?: FrameConsumer,
): Promise<DecodedKeyFrames> {
  const m = options?.m;
  if (!Number.isInteger(m) || m < 1 || m > 4096) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `options.m must be an integer in 1..4096, got ${String(m)}`,
    );
  }
  const strategy = options.strategy ?? 'select';
  if (strategy !== 'select' && strategy !== 'seek') {
    throw new VideoIOError(
      'E_ARGUMENT',
      `options.strategy must be 'select' or 'seek', got ${JSON.stringify(strategy)}`,
    );
  }
  const input = checkInputFile(path);
  const label = JSON.stringify(path);
  const info =
    options.info ??
    (await probe(input.path, { signal: options.signal, timeoutMs: options.timeoutMs }));
  const [height, width] = info.outputSize;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (height * width > maxPixels) {
    throw new VideoIOError(
      'E_DIMENSIONS',
      `${label}: frames of ${width}×${height} exceed maxPixels ${maxPixels}`,
    );
  }
  const ctx: DecodeContext = {
    url: input.url,
    label,
    info,
    timeoutMs: options.timeoutMs ?? DEFAULT_DECODE_TIMEOUT_MS,
    signal: options.signal,
    consumer,
  };
  const frameBytes = height * width * 3;
  const failed = (got: number, of: number): VideoIOError =>
    new VideoIOError(
      'E_DECODE',
      `${label}: decoded ${got} of ${of} key frames (the video stream is damaged or cannot be decoded)`,
    );

  let frameCount = Math.max(1, info.frameCount);
  for (let attempt = 0; ; attempt++) {
    const indices = keyFrameIndices(frameCount, m);
    const unique = [...new Set(indices)];
    const decoded = new Uint8Array(unique.length * frameBytes);
    consumer?.begin(unique.length, height, width);
    let outcome: { got: number; times: number[] };
    try {
      outcome =
        strategy === 'select'
          ? await decodeBySelect(ctx, unique, decoded)
          : await decodeBySeek(ctx, unique, decoded);
    } catch (err) {
      // ffmpeg fails outright when not one selected frame exists (e.g. truncated file): see if fewer frames decode
      if (!(err instanceof VideoIOError) || err.code !== 'E_DECODE' || attempt > 0) throw err;
      const exact = await countDecodedFrames(ctx);
      if (exact === 0) {
        throw new VideoIOError(
          'E_DECODE',
          `${label}: not one frame of the video stream could be decoded (${err.message})`,
          { cause: err },
        );
      }
      if (exact >= frameCount) throw err;
      frameCount = exact;
      continue;
    }
    const { got, times } = outcome;
    if (got === unique.length) {
      const slots = indices.map((index) => unique.indexOf(index));
      const timestamps = slots.map((slot) => times[slot] ?? Number.NaN);
      return { decoded, slots, indices, timestamps, info: { ...info, frameCount }, frameBytes };
    }
    if (attempt > 0) throw failed(got, unique.length);
    // the container's frame count was too high (e.g. truncated file): count decodable frames and retry once
    const exact = await countDecodedFrames(ctx);
    if (!(exact > 0) || exact >= frameCount) throw failed(got, unique.length);
    frameCount = exact;
  }
}

/** Copies per-slot blocks of `bytes` from `source` into M blocks following `slots`. */
export function expandSlots(source: Uint8Array, slots: number[], bytes: number): Uint8Array {
  if (slots.every((slot, j) => slot === j) && source.length === slots.length * bytes) return source;
  const out = new Uint8Array(slots.length * bytes);
  slots.forEach((slot, j) => out.set(source.subarray(slot * bytes, (slot + 1) * bytes), j * bytes));
  return out;
}

/**
 * Decodes M uniformly spaced key frames of a video to RGB.
 *
 * Index formula: `index_j = floor((j + 0.5) · N / M)`, j = 0..M-1, N = frame
 * count (see {@link keyFrameIndices}). Frames come out as stored but with the
 * display rotation applied and non-square pixels stretched to square; 10-bit
 * input is converted to 8 bits by swscale, HDR (PQ/HLG) is tone-mapped to
 * BT.709 SDR with zimg + Hable (see README).
 *
 * @param path a local video file
 * @returns `frames` of shape `[M, H, W, 3]` (uint8 RGB), `indices` (length M), `timestamps`, `info`
 * @throws VideoIOError (`E_DECODE` when the stream cannot be decoded, plus every {@link probe} code)
 */
export async function sampleKeyFrames(
  path: string,
  options: SampleKeyFramesOptions,
): Promise<KeyFrames> {
  const result = await decodeKeyFrames(path, options);
  const [height, width] = result.info.outputSize;
  return {
    frames: expandSlots(result.decoded, result.slots, result.frameBytes),
    shape: [result.slots.length, height, width, 3],
    indices: result.indices,
    timestamps: result.timestamps,
    info: result.info,
  };
}
