/**
 * Checks an input before it is queued: ffprobe through `@vqlm/video-io` (zero bytes, not media,
 * no video stream, absurd size), then, for containers that state their frame count (mp4, mov,
 * avi…), a demux-only pass counting the packets that are really there, so that a truncated file
 * is refused up front instead of failing in its job.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { VideoIOError, probe, resolveBinaries } from '@vqlm/video-io';
import { HttpError } from './errors.js';

const PROBE_HINTS: Record<string, string> = {
  E_EMPTY: 'the file has zero bytes',
  E_NOT_VIDEO: 'not a readable video file (not media, or truncated)',
  E_NO_VIDEO: 'the file has no video stream (audio only?)',
  E_DIMENSIONS: 'unsupported frame size',
  E_NOT_FOUND: 'file not found',
  E_NOT_FILE: 'not a regular file',
  E_TIMEOUT: 'probing the file took too long',
};

/** Video packets ffprobe can demux from the file (no decoding). */
function countPackets(path: string, timeoutMs: number): Promise<number> {
  return new Promise((done, fail) => {
    execFile(
      resolveBinaries().ffprobe,
      ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'json', `file:${resolve(path)}`],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (error && (error as { killed?: boolean }).killed) {
          fail(new VideoIOError('E_TIMEOUT', `${JSON.stringify(path)}: counting packets took longer than ${timeoutMs} ms`));
          return;
        }
        try {
          const parsed = JSON.parse(stdout || '{}') as { streams?: { nb_read_packets?: string }[] };
          done(Number(parsed.streams?.[0]?.nb_read_packets ?? 0) || 0);
        } catch {
          done(0);
        }
      },
    );
  });
}

/**
 * Refuses with 422 (code = the `VideoIOError` code, or `E_TRUNCATED` / `E_DECODE`) a file that is
 * not a usable video. Messages name `label` (e.g. `video "clip.mp4"`), never the server-side path.
 */
export async function checkVideo(path: string, label: string, timeoutMs: number): Promise<void> {
  const rename = (message: string): string => message.split(JSON.stringify(path)).join(label).split(path).join(label);
  try {
    const info = await probe(path, { timeoutMs });
    if (!(info.frameCount > 0)) throw new HttpError(422, 'E_DECODE', `${label}: the video stream has no frames`);
    const packets = await countPackets(path, timeoutMs);
    if (packets === 0) throw new HttpError(422, 'E_DECODE', `${label}: no frame of the video stream can be read (truncated or corrupt)`);
    if (packets < info.frameCount) {
      throw new HttpError(422, 'E_TRUNCATED', `${label}: the file is truncated: ${packets} of ${info.frameCount} frames are present`);
    }
  } catch (error) {
    if (!(error instanceof VideoIOError)) throw error;
    if (error.code === 'E_BINARY') throw error;
    const detail = rename(error.message);
    const hint = PROBE_HINTS[error.code];
    throw new HttpError(422, error.code, hint ? `${label}: ${hint} — ${detail}` : detail);
  }
}
