import { Presets, SingleBar } from 'cli-progress';
import type { TrainEvent } from './trainer.js';

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** `mse 0.123 rank 0.045 ce 2.31` */
export function formatParts(parts: Readonly<Record<string, number>>): string {
  return Object.entries(parts)
    .map(([name, value]) => `${name} ${value.toPrecision(3)}`)
    .join(' ');
}

/** One line for an evaluation record. */
export function formatEval(record: Extract<TrainEvent, { type: 'eval' }>['record']): string {
  const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
  const flips = record.flip
    .filter((b) => b.rate !== null)
    .map((b) => `${b.diff}:${fmt(b.rate)}`)
    .join(' ');
  return `${record.split} epoch ${record.epoch}: SRCC ${fmt(record.srcc)} PLCC ${fmt(record.plcc)} (n=${record.n}) flip by ${record.flipUnit} diff ${flips || 'n/a'}`;
}

/**
 * Progress of a training run on stderr: a bar with steps/s, ETA and each loss part on a terminal;
 * plain lines (data preparation, every 5% of steps, evaluations, checkpoints) otherwise.
 */
export function createTrainProgress(stream: NodeJS.WriteStream = process.stderr): { onEvent: (event: TrainEvent) => void; stop: () => void } {
  const tty = stream.isTTY === true;
  let bar: SingleBar | null = null;
  let lastLine = -1;
  const line = (text: string): void => {
    if (bar) bar.stop();
    stream.write(`${text}\n`);
    if (bar) bar = null;
  };
  const onEvent = (event: TrainEvent): void => {
    switch (event.type) {
      case 'prepare':
        if (event.done === event.total || (!tty && event.done % Math.max(1, Math.floor(event.total / 10)) === 0)) line(`prepare: ${event.done}/${event.total} videos prepared`);
        break;
      case 'start':
        line(
          `${event.resumed ? 'resuming at' : 'starting at'} step ${event.step}/${event.totalSteps}; videos: train ${event.items.train}, val ${event.items.val}, test ${event.items.test}` +
            `${event.failed ? `, ${event.failed} failed to decode` : ''}; context frames encoded ${event.featuresEncoded}, from cache ${event.featuresCached}`,
        );
        break;
      case 'step': {
        const { record, totalSteps, stepsPerSecond, etaSeconds } = event;
        const label = `${record.phase === 'describer' ? 'describer' : `epoch ${record.epoch + 1}`} | ${stepsPerSecond.toFixed(2)} steps/s | ETA ${formatDuration(etaSeconds)} | loss ${record.loss.toPrecision(4)} | ${formatParts(record.parts)}`;
        if (tty) {
          if (!bar) {
            bar = new SingleBar({ stream, format: 'train [{bar}] {value}/{total} | {label}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
            bar.start(totalSteps, record.step, { label });
          }
          bar.update(record.step, { label });
        } else {
          const bucket = Math.floor((record.step / totalSteps) * 20);
          if (bucket !== lastLine || record.step === totalSteps) {
            lastLine = bucket;
            stream.write(`step ${record.step}/${totalSteps} | ${label}\n`);
          }
        }
        break;
      }
      case 'eval':
        line(formatEval(event.record));
        break;
      case 'checkpoint':
        if (!tty) stream.write(`checkpoint: step ${event.step} → ${event.dir}\n`);
        break;
      case 'member':
        lastLine = -1;
        line(`ensemble member ${event.index + 1}/${event.total}: ${event.group ? `${event.group}, ` : ''}seed ${event.seed}${event.reused ? ' (finished earlier, reused)' : ''}`);
        break;
      case 'memberOutput':
        line(`[member ${event.index + 1}/${event.total}] ${event.line}`);
        break;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}
