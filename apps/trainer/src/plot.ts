import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { TrainerError } from './errors.js';

/** One logged optimisation step: the total loss and its named parts (e.g. `regression`, `lm`). */
export interface StepPoint {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly parts: Readonly<Record<string, number>>;
}

/** One validation pass at the end of an epoch; `null` = not computable. */
export interface EvalPoint {
  readonly epoch: number;
  readonly step: number;
  readonly srcc: number | null;
  readonly plcc: number | null;
  /** Flip rate per CRF difference (CP-LLM Table 3 columns). */
  readonly flip: readonly {
    readonly diff: number;
    readonly rate: number | null;
    readonly pairs: number;
  }[];
}

/** Everything one training run logged, as plotted by {@link plotRun}. */
export interface RunCurves {
  readonly title: string;
  readonly steps: readonly StepPoint[];
  readonly evals: readonly EvalPoint[];
}

/** Options of {@link renderRunSvg} and {@link plotRun}. */
export interface PlotOptions {
  /**
   * Weight of the exponential moving average drawn over the raw losses, in
   * [0, 1): 0 = no smoothing. Default 0.9 (as TensorBoard's slider), debiased
   * so that the first points are not pulled towards 0.
   */
  readonly smoothing?: number;
  /** Logarithmic loss axes (non-positive losses are then left out). Default false. */
  readonly logY?: boolean;
  /** PNG scale factor over the SVG's pixel size. Default 2. */
  readonly pngScale?: number;
}

/** File formats {@link plotRun} writes, chosen by the file extension. */
export const PLOT_FORMATS = ['.svg', '.png'] as const;

const PANEL_WIDTH = 320;
const PANEL_HEIGHT = 180;
const TOTAL_SERIES = 'total';

interface LossRow {
  readonly series: string;
  readonly step: number;
  readonly value: number;
  readonly smoothed: number;
}

interface EvalRow {
  readonly series: string;
  readonly epoch: number;
  readonly value: number;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkOptions(options: PlotOptions): Required<PlotOptions> {
  const smoothing = options.smoothing ?? 0.9;
  if (!isFiniteNumber(smoothing) || smoothing < 0 || smoothing >= 1) {
    throw new TrainerError(
      'E_PLOT',
      `smoothing must be a number in [0, 1), got ${String(smoothing)}`,
    );
  }
  const pngScale = options.pngScale ?? 2;
  if (!isFiniteNumber(pngScale) || pngScale <= 0 || pngScale > 16) {
    throw new TrainerError(
      'E_PLOT',
      `pngScale must be a number in (0, 16], got ${String(pngScale)}`,
    );
  }
  return { smoothing, logY: options.logY ?? false, pngScale };
}

/**
 * Debiased exponential moving average (TensorBoard's smoothing): the k-th
 * value is EMA_k / (1 − w^k), so a curve starts at its first raw value.
 */
function smooth(values: readonly number[], weight: number): number[] {
  let ema = 0;
  let correction = 1;
  return values.map((v) => {
    ema = weight * ema + (1 - weight) * v;
    correction *= weight;
    return weight === 0 ? v : ema / (1 - correction);
  });
}

/**
 * Long-format loss rows: one series for the total and one per part, each
 * sorted by step, with non-finite values (and non-positive ones on a log
 * axis) left out before smoothing.
 */
function lossRows(steps: readonly StepPoint[], smoothing: number, logY: boolean): LossRow[] {
  // The total first, then the parts in order of first appearance.
  const series = new Map<string, { step: number; value: number }[]>([[TOTAL_SERIES, []]]);
  const push = (name: string, step: number, value: unknown): void => {
    if (!isFiniteNumber(value) || (logY && value <= 0)) return;
    let points = series.get(name);
    if (!points) series.set(name, (points = []));
    points.push({ step, value });
  };
  for (const point of steps) {
    if (!isFiniteNumber(point.step)) continue;
    push(TOTAL_SERIES, point.step, point.loss);
    for (const [name, value] of Object.entries(point.parts)) {
      push(name === TOTAL_SERIES ? `${TOTAL_SERIES} (part)` : name, point.step, value);
    }
  }
  const rows: LossRow[] = [];
  for (const [name, points] of series) {
    points.sort((a, b) => a.step - b.step);
    const smoothed = smooth(
      points.map((p) => p.value),
      smoothing,
    );
    points.forEach((p, i) =>
      rows.push({ series: name, step: p.step, value: p.value, smoothed: smoothed[i] }),
    );
  }
  return rows;
}

function correlationRows(evals: readonly EvalPoint[]): EvalRow[] {
  const rows: EvalRow[] = [];
  for (const key of ['srcc', 'plcc'] as const) {
    for (const e of evals) {
      const value = e[key];
      if (isFiniteNumber(e.epoch) && isFiniteNumber(value)) {
        rows.push({ series: key.toUpperCase(), epoch: e.epoch, value });
      }
    }
  }
  return rows.sort((a, b) =>
    a.series === b.series ? a.epoch - b.epoch : a.series < b.series ? -1 : 1,
  );
}

function flipRows(evals: readonly EvalPoint[]): EvalRow[] {
  const rows: (EvalRow & { diff: number })[] = [];
  for (const e of evals) {
    if (!isFiniteNumber(e.epoch)) continue;
    for (const bucket of e.flip) {
      if (isFiniteNumber(bucket.diff) && isFiniteNumber(bucket.rate)) {
        rows.push({
          series: `flip@${bucket.diff}`,
          diff: bucket.diff,
          epoch: e.epoch,
          value: bucket.rate,
        });
      }
    }
  }
  rows.sort((a, b) => a.diff - b.diff || a.epoch - b.epoch);
  return rows.map(({ series, epoch, value }) => ({ series, epoch, value }));
}

type Panel = Record<string, unknown>;

/** Shortest exact tick labels ("1", "0.25", "1e+6"), also for a one-value domain. */
const AXIS = { format: '~g' };

/** Each panel has its own colours and legend (loss series, metrics, CRF differences). */
const INDEPENDENT_COLORS = { scale: { color: 'independent' }, legend: { color: 'independent' } };

function lossPanel(rows: LossRow[], logY: boolean, smoothing: number): Panel {
  const names = [...new Set(rows.map((r) => r.series))];
  const yTitle = `${logY ? 'loss (log)' : 'loss'}${smoothing > 0 ? `, EMA ${smoothing}` : ''}`;
  const y = (field: string, title: string): Record<string, unknown> => ({
    field,
    type: 'quantitative',
    title,
    scale: logY ? { type: 'log' } : { zero: false },
    axis: AXIS,
  });
  return {
    data: { values: rows },
    facet: {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: names,
      header: { labelFontSize: 13, labelFontWeight: 'bold' },
    },
    columns: Math.min(3, names.length),
    spec: {
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      layer: [
        {
          mark: { type: 'line', opacity: 0.25, strokeWidth: 1, point: rows.length <= names.length },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step', axis: AXIS },
            y: y('value', yTitle),
            color: { field: 'series', type: 'nominal', sort: names, legend: null },
          },
        },
        {
          mark: { type: 'line', strokeWidth: 2 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step', axis: AXIS },
            y: y('smoothed', yTitle),
            color: { field: 'series', type: 'nominal', sort: names, legend: null },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

function evalPanel(
  rows: EvalRow[],
  title: string,
  yTitle: string,
  legendTitle: string,
  domain: [number, number] | null,
): Panel {
  const names = [...new Set(rows.map((r) => r.series))];
  return {
    title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative',
        title: 'epoch',
        axis: { ...AXIS, tickMinStep: 1 },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        scale: domain ? { domain, nice: false } : { zero: false },
        axis: AXIS,
      },
      color: { field: 'series', type: 'nominal', sort: names, title: legendTitle },
    },
  };
}

function notePanel(text: string): Panel {
  return {
    width: PANEL_WIDTH,
    height: 30,
    view: { stroke: null },
    data: { values: [{ text }] },
    mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 12, color: '#666' },
    encoding: { text: { field: 'text', type: 'nominal' }, x: { value: 8 }, y: { value: 15 } },
  };
}

/** The Vega-Lite specification of the run's curves (exported for tests and notebooks). */
export function runCurvesSpec(curves: RunCurves, options: PlotOptions = {}): TopLevelSpec {
  const { smoothing, logY } = checkOptions(options);
  checkCurves(curves);
  const panels: Panel[] = [];
  const losses = lossRows(curves.steps, smoothing, logY);
  if (losses.length > 0) panels.push(lossPanel(losses, logY, smoothing));
  else panels.push(notePanel('no training loss recorded'));
  const correlations = correlationRows(curves.evals);
  const flips = flipRows(curves.evals);
  const evalPanels: Panel[] = [];
  if (correlations.length > 0) {
    evalPanels.push(
      evalPanel(correlations, 'validation SRCC / PLCC', 'correlation', 'metric', null),
    );
  }
  if (flips.length > 0) {
    evalPanels.push(
      evalPanel(
        flips,
        'validation flip rate by CRF difference',
        'flip rate',
        'CRF difference',
        [0, 1],
      ),
    );
  }
  if (evalPanels.length > 0) panels.push({ hconcat: evalPanels, resolve: INDEPENDENT_COLORS });
  else panels.push(notePanel('no validation results recorded'));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: curves.title, fontSize: 16, anchor: 'start' },
    background: 'white',
    padding: 12,
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    vconcat: panels,
    resolve: INDEPENDENT_COLORS,
  } as unknown as TopLevelSpec;
}

function checkCurves(curves: RunCurves): void {
  if (curves === null || typeof curves !== 'object') {
    throw new TrainerError(
      'E_PLOT',
      `curves must be an object { title, steps, evals }, got ${typeof curves}`,
    );
  }
  if (typeof curves.title !== 'string') {
    throw new TrainerError('E_PLOT', `curves.title must be a string, got ${typeof curves.title}`);
  }
  for (const key of ['steps', 'evals'] as const) {
    if (!Array.isArray(curves[key])) {
      throw new TrainerError('E_PLOT', `curves.${key} must be an array, got ${typeof curves[key]}`);
    }
  }
  curves.steps.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || s.parts === null || typeof s.parts !== 'object') {
      throw new TrainerError('E_PLOT', `curves.steps[${i}] must be { step, epoch, loss, parts }`);
    }
  });
  curves.evals.forEach((e, i) => {
    if (e === null || typeof e !== 'object' || !Array.isArray(e.flip)) {
      throw new TrainerError(
        'E_PLOT',
        `curves.evals[${i}] must be { epoch, step, srcc, plcc, flip: [] }`,
      );
    }
  });
}

/**
 * Renders the run's curves as a standalone SVG document, headless (Vega's
 * string renderer; no canvas, no browser): the total loss and each loss part
 * against the step (raw values faint, the smoothed curve on top, one panel
 * each with its own y axis), validation SRCC and PLCC against the epoch, and
 * the flip rate per CRF difference against the epoch. Non-finite and `null`
 * values are left out; empty inputs give a note instead of a panel. The same
 * input gives the same bytes.
 *
 * @throws TrainerError `E_PLOT` for malformed curves or options
 */
export async function renderRunSvg(curves: RunCurves, options: PlotOptions = {}): Promise<string> {
  const spec = runCurvesSpec(curves, options);
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function svgToPng(svg: string, scale: number): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: {
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
    background: 'white',
  });
  return resvg.render().asPng();
}

/**
 * Writes the run's curves to `file`: `.svg` (see {@link renderRunSvg}) or
 * `.png` (the SVG rasterised by resvg at `pngScale`× its size; text uses the
 * system's fonts, DejaVu Sans when present). The file appears atomically: it
 * is written beside the target under a temporary name and renamed; on any
 * failure the temporary file is removed.
 *
 * @throws TrainerError `E_PLOT` for an unknown extension (before any work) or a failed write
 */
export async function plotRun(
  curves: RunCurves,
  file: string,
  options: PlotOptions = {},
): Promise<void> {
  const extension = extname(file).toLowerCase();
  if (!(PLOT_FORMATS as readonly string[]).includes(extension)) {
    throw new TrainerError(
      'E_PLOT',
      `cannot write plot ${file}: unknown file type "${extname(file)}"; use ${PLOT_FORMATS.join(' or ')}`,
    );
  }
  const { pngScale } = checkOptions(options);
  const svg = await renderRunSvg(curves, options);
  const content = extension === '.png' ? svgToPng(svg, pngScale) : svg;
  const temporary = join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await writeFile(temporary, content);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new TrainerError('E_PLOT', `cannot write plot ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
