import { SingleBar, Presets } from 'cli-progress';

/** Writes `value` as one line of JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** A progress reporter for long work; draws on stderr only when it is a TTY. */
export interface Progress {
  increment(by?: number, label?: string): void;
  stop(): void;
}

/**
 * Creates a progress bar with ETA on stderr. When stderr is not a terminal
 * (pipes, CI) nothing is drawn, so `--json` output on stdout stays clean.
 */
export function createProgress(total: number, label: string): Progress {
  if (!process.stderr.isTTY) {
    return { increment: () => undefined, stop: () => undefined };
  }
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | {item}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { item: '' });
  return {
    increment: (by = 1, item = '') => bar.increment(by, { item }),
    stop: () => bar.stop(),
  };
}
