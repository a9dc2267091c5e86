import { VideoIOError } from './errors.js';
import { runFfprobe } from './ffmpeg-runner.js';
import { checkInputFile } from './input-path.js';
import type { ProbeOptions, VideoInfo } from './types.js';

/** Default time limit of one ffprobe run. */
export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
/** Largest side accepted (pixels); larger streams are rejected with `E_DIMENSIONS`. */
export const MAX_SIDE = 16_384;

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  color_transfer?: string;
  color_space?: string;
  color_primaries?: string;
  color_range?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  side_data_list?: { side_data_type?: string; rotation?: number }[];
}

interface RawProbe {
  streams?: RawStream[];
  format?: { duration?: string; format_name?: string };
}

function ratio(text: string | undefined): number {
  if (!text) return 0;
  const [num, den] = text.split('/').map(Number);
  if (!Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return den > 0 && Number.isFinite(den) ? num / den : 0;
}

function bitDepthOf(stream: RawStream): number {
  const raw = Number(stream.bits_per_raw_sample);
  if (Number.isInteger(raw) && raw > 0) return raw;
  const match = /(\d+)(le|be)$/.exec(stream.pix_fmt ?? '');
  if (match && /p\d+(le|be)$/.test(stream.pix_fmt ?? '')) return Number(match[1]);
  if (/^(rgb|bgr)48|64/.test(stream.pix_fmt ?? '')) return 16;
  return 8;
}

function rotationOf(stream: RawStream): 0 | 90 | 180 | 270 {
  // side data `rotation` is counter-clockwise (av_display_rotation_get); the `rotate` tag is clockwise
  const side = stream.side_data_list?.find((s) => typeof s.rotation === 'number');
  let clockwise = side ? -(side.rotation ?? 0) : Number(stream.tags?.rotate ?? 0);
  if (!Number.isFinite(clockwise)) clockwise = 0;
  const normalised = (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
  return normalised as 0 | 90 | 180 | 270;
}

function sampleAspectOf(stream: RawStream): [number, number] {
  const match = /^(\d+):(\d+)$/.exec(stream.sample_aspect_ratio ?? '');
  if (!match) return [1, 1];
  const num = Number(match[1]);
  const den = Number(match[2]);
  return num > 0 && den > 0 ? [num, den] : [1, 1];
}

/**
 * Reads a file's video properties with ffprobe (no decoding; packets are
 * counted only when the container stores no frame count).
 *
 * @param path a local video file (any name: it is handed to ffmpeg as `file:<absolute path>`)
 * @throws VideoIOError `E_NOT_FOUND`, `E_NOT_FILE`, `E_EMPTY`, `E_NOT_VIDEO`, `E_NO_VIDEO`,
 *   `E_DIMENSIONS`, `E_TIMEOUT`, `E_ABORTED`, `E_BINARY`
 */
export async function probe(path: string, options: ProbeOptions = {}): Promise<VideoInfo> {
  const input = checkInputFile(path);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const label = JSON.stringify(path);
  const result = await runFfprobe(
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', input.url],
    {
      timeoutMs,
      signal: options.signal,
      label,
    },
  );
  let parsed: RawProbe;
  try {
    parsed = JSON.parse(result.stdout || '{}') as RawProbe;
  } catch {
    parsed = {};
  }
  if (result.exitCode !== 0 || !parsed.format) {
    const reason = result.stderr.trim().split('\n').pop() ?? 'unreadable';
    throw new VideoIOError(
      'E_NOT_VIDEO',
      `${label} is not a readable media file: ${reason.replace(/^file:\S*:\s*/, '')}`,
    );
  }
  const streams = parsed.streams ?? [];
  const stream = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const durationAll = Number(parsed.format.duration ?? 0);
  if (!stream) {
    if (options.allowNoVideo) {
      return {
        path: input.path,
        hasVideo: false,
        width: 0,
        height: 0,
        sampleAspect: [1, 1],
        displayAspect: 0,
        rotation: 0,
        outputSize: [0, 0],
        fps: 0,
        variableFrameRate: false,
        duration: Number.isFinite(durationAll) ? durationAll : 0,
        frameCount: 0,
        codec: '',
        pixelFormat: '',
        bitDepth: 0,
        colorTransfer: 'unknown',
        colorSpace: 'unknown',
        colorPrimaries: 'unknown',
        colorRange: 'unknown',
        hdr: false,
      };
    }
    const kinds = streams.map((s) => s.codec_type ?? '?').join(', ') || 'none';
    throw new VideoIOError('E_NO_VIDEO', `${label} has no video stream (streams: ${kinds})`);
  }
  const width = stream.width ?? 0;
  const height = stream.height ?? 0;
  if (!(width > 0 && height > 0 && width <= MAX_SIDE && height <= MAX_SIDE)) {
    throw new VideoIOError(
      'E_DIMENSIONS',
      `${label} has unsupported frame size ${width}×${height} (allowed 1..${MAX_SIDE} per side)`,
    );
  }
  const sampleAspect = sampleAspectOf(stream);
  const rotation = rotationOf(stream);
  const squareWidth =
    sampleAspect[0] === sampleAspect[1]
      ? width
      : Math.max(1, Math.round((width * sampleAspect[0]) / sampleAspect[1]));
  const outputSize: [number, number] =
    rotation % 180 === 0 ? [height, squareWidth] : [squareWidth, height];
  const avg = ratio(stream.avg_frame_rate);
  const real = ratio(stream.r_frame_rate);
  const fps = avg > 0 ? avg : real;
  const duration = Number(stream.duration ?? parsed.format.duration ?? 0);
  let frameCount = Number(stream.nb_frames ?? 0);
  if (!(Number.isInteger(frameCount) && frameCount > 0)) {
    const counted = await runFfprobe(
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-count_packets',
        '-show_entries',
        'stream=nb_read_packets',
        '-print_format',
        'json',
        input.url,
      ],
      { timeoutMs, signal: options.signal, label },
    );
    try {
      const packets = (JSON.parse(counted.stdout) as RawProbe).streams?.[0]?.nb_read_packets;
      frameCount = Number(packets ?? 0);
    } catch {
      frameCount = 0;
    }
    if (!(frameCount > 0) && fps > 0 && duration > 0) frameCount = Math.round(fps * duration);
  }
  const colorTransfer = stream.color_transfer ?? 'unknown';
  const [outH, outW] = outputSize;
  return {
    path: input.path,
    hasVideo: true,
    width,
    height,
    sampleAspect,
    displayAspect: outW / outH,
    rotation,
    outputSize,
    fps,
    variableFrameRate: avg > 0 && real > 0 && Math.abs(avg - real) / real > 0.01,
    duration: Number.isFinite(duration) ? duration : 0,
    frameCount: Number.isFinite(frameCount) ? frameCount : 0,
    codec: stream.codec_name ?? 'unknown',
    pixelFormat: stream.pix_fmt ?? 'unknown',
    bitDepth: bitDepthOf(stream),
    colorTransfer,
    colorSpace: stream.color_space ?? 'unknown',
    colorPrimaries: stream.color_primaries ?? 'unknown',
    colorRange: stream.color_range ?? (stream.pix_fmt?.startsWith('yuvj') ? 'pc' : 'unknown'),
    hdr: colorTransfer === 'smpte2084' || colorTransfer === 'arib-std-b67',
  };
}
