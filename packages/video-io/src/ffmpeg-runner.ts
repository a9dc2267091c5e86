/**
 * The one module that knows how ffmpeg and ffprobe are launched. ffmpeg runs
 * go through `fluent-ffmpeg` (the project's choice); swapping it means
 * rewriting only this file. Every run is bounded by a timeout and can be
 * aborted; the returned promise settles only after the child process has
 * exited, so nothing is left running behind a rejected call.
 *
 * No shell is ever involved: arguments go to `spawn`/`execFile` as an array.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { resolveBinaries } from './binaries.js';
import { VideoIOError } from './errors.js';

/** One ffmpeg input: a `file:` URL or a lavfi graph, with options placed before its `-i`. */
export interface FfmpegInput {
  source: string;
  options?: string[];
}

/** One ffmpeg invocation. */
export interface FfmpegRun {
  inputs: FfmpegInput[];
  /** Options placed after all inputs and before the output. */
  outputOptions: string[];
  /** Output target: a `file:` URL, `-` style null target, or a stream fed from ffmpeg's stdout. */
  output: string | Writable;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Names the file(s) involved in error messages. */
  label: string;
  /** Error code for a non-zero exit. */
  failureCode: 'E_DECODE' | 'E_ENCODE';
  /** Receives every stderr line. */
  onStderrLine?: (line: string) => void;
}

function abortedError(label: string): VideoIOError {
  return new VideoIOError('E_ABORTED', `ffmpeg run on ${label} was aborted`);
}

function timeoutError(label: string, timeoutMs: number): VideoIOError {
  return new VideoIOError(
    'E_TIMEOUT',
    `ffmpeg run on ${label} timed out after ${timeoutMs} ms and was killed`,
  );
}

/** Keeps the last few meaningful stderr lines for error messages. */
function tail(lines: string[]): string {
  const useful = lines.filter((l) => l.trim() !== '' && !/^\s*(frame=|\[Parsed_showinfo)/.test(l));
  return useful.slice(-3).join(' | ').slice(0, 600);
}

/** Adds options to a fluent-ffmpeg command without its space-splitting heuristics. */
function addOptions(add: (...options: string[]) => unknown, options: readonly string[]): void {
  if (options.length === 0) return;
  // fluent-ffmpeg splits a lone argument "a b" into two; a rest call with ≥ 2 items is taken verbatim
  if (options.length === 1) {
    if (options[0].includes(' '))
      throw new VideoIOError('E_ARGUMENT', `internal: unsafe lone ffmpeg option "${options[0]}"`);
    add(options[0]);
    return;
  }
  add(...options);
}

/** Runs ffmpeg to completion; resolves with its stderr lines. */
export function runFfmpeg(run: FfmpegRun): Promise<{ stderr: string[] }> {
  const { ffmpeg: binary } = resolveBinaries();
  if (run.signal?.aborted) return Promise.reject(abortedError(run.label));
  return new Promise((resolve, reject) => {
    const stderr: string[] = [];
    const command = ffmpeg({ stdoutLines: 1 });
    command.setFfmpegPath(binary);
    run.inputs.forEach((input, i) => {
      command.input(input.source);
      const options =
        i === 0 ? ['-nostdin', '-hide_banner', ...(input.options ?? [])] : (input.options ?? []);
      addOptions((...o) => command.inputOptions(...o), options);
    });
    addOptions((...o) => command.outputOptions(...o), run.outputOptions);

    let child: ChildProcess | undefined;
    let exited = false;
    let killReason: 'abort' | 'timeout' | undefined;
    let outcome: { error?: VideoIOError } | undefined;

    const kill = (reason: 'abort' | 'timeout'): void => {
      killReason ??= reason;
      if (child && !exited) child.kill('SIGKILL');
    };
    const onAbort = (): void => kill('abort');
    const timer = setTimeout(() => kill('timeout'), run.timeoutMs);
    run.signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (): void => {
      if (!outcome || (child && !exited)) return;
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if (killReason === 'abort') reject(abortedError(run.label));
      else if (killReason === 'timeout') reject(timeoutError(run.label, run.timeoutMs));
      else if (outcome.error) reject(outcome.error);
      else resolve({ stderr });
    };

    command.on('start', () => {
      child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (!child) return;
      if (child.exitCode !== null || child.signalCode !== null) exited = true;
      else
        child.once('exit', () => {
          exited = true;
          settle();
        });
      if (killReason) child.kill('SIGKILL');
    });
    command.on('stderr', (line: string) => {
      stderr.push(line);
      if (stderr.length > 400) stderr.splice(0, stderr.length - 200);
      run.onStderrLine?.(line);
    });
    command.on('error', (err: Error) => {
      const message = err.message ?? String(err);
      if (/ENOENT|EACCES|Cannot find ffmpeg/.test(message) && !child) {
        outcome = {
          error: new VideoIOError(
            'E_BINARY',
            `cannot run ffmpeg (${binary}): ${message}; set VQLM_FFMPEG or install ffmpeg`,
            {
              cause: err,
            },
          ),
        };
      } else {
        // fluent-ffmpeg's own words say how ffmpeg ended (exit code, signal, a closed pipe); its
        // stderr tail says why. Both, so that a failure whose stderr looks normal is explained.
        const how = /^(ffmpeg exited with code -?\d+|ffmpeg was killed with signal \w+)/.exec(message)?.[1] ?? message.split('\n')[0].slice(0, 200);
        const why = tail(stderr);
        const detail = why ? `${how}; ${why}` : message;
        outcome = {
          error: new VideoIOError(run.failureCode, `ffmpeg failed on ${run.label}: ${detail}`, {
            cause: err,
          }),
        };
      }
      settle();
    });
    command.on('end', () => {
      outcome = {};
      settle();
    });

    if (typeof run.output === 'string') {
      command.output(run.output);
      command.run();
    } else {
      command.pipe(run.output, { end: true });
    }
  });
}

/** Result of an ffprobe run that exited (with any status). */
export interface FfprobeResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs ffprobe with `args`; rejects only for timeout, abort or a missing binary. */
export function runFfprobe(
  args: string[],
  options: { timeoutMs: number; signal?: AbortSignal; label: string },
): Promise<FfprobeResult> {
  const { ffprobe: binary } = resolveBinaries();
  if (options.signal?.aborted) return Promise.reject(abortedError(options.label));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-hide_banner', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let killReason: 'abort' | 'timeout' | 'overflow' | undefined;
    const kill = (reason: 'abort' | 'timeout' | 'overflow'): void => {
      killReason ??= reason;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => kill('abort');
    const timer = setTimeout(() => kill('timeout'), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 256 * 1024 * 1024) kill('overflow');
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 256) stderr.push(chunk);
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (spawnError && child.pid === undefined) {
        reject(
          new VideoIOError(
            'E_BINARY',
            `cannot run ffprobe (${binary}): ${spawnError.message}; set VQLM_FFPROBE or install ffprobe`,
          ),
        );
      } else if (killReason === 'abort') reject(abortedError(options.label));
      else if (killReason === 'timeout') {
        reject(
          new VideoIOError(
            'E_TIMEOUT',
            `ffprobe on ${options.label} timed out after ${options.timeoutMs} ms and was killed`,
          ),
        );
      } else if (killReason === 'overflow') {
        reject(
          new VideoIOError('E_NOT_VIDEO', `ffprobe output for ${options.label} exceeds 256 MiB`),
        );
      } else {
        resolve({
          exitCode: code ?? 1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      }
    });
  });
}
