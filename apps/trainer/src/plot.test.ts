import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrainerError } from './errors.js';
import {
  plotRun,
  renderRunSvg,
  runCurvesSpec,
  type EvalPoint,
  type RunCurves,
  type StepPoint,
} from './plot.js';

const steps: StepPoint[] = Array.from({ length: 60 }, (_, i) => ({
  step: i + 1,
  epoch: Math.floor(i / 20),
  loss: 2 * Math.exp(-i / 20) + 0.1 * Math.sin(i) ** 2,
  parts: {
    regression: Math.exp(-i / 15),
    language_model: Math.exp(-i / 30) + 0.05 * Math.cos(i) ** 2,
  },
}));
const evals: EvalPoint[] = [1, 2, 3].map((epoch) => ({
  epoch,
  step: epoch * 20,
  srcc: 0.5 + 0.1 * epoch,
  plcc: 0.55 + 0.1 * epoch,
  flip: [
    { diff: 2, rate: 0.4 - 0.05 * epoch, pairs: 12 },
    { diff: 4, rate: 0.3 - 0.05 * epoch, pairs: 10 },
    { diff: 20, rate: null, pairs: 0 },
  ],
}));
const curves: RunCurves = { title: 'cp-llm tiny run', steps, evals };

/** All text nodes of the SVG (titles, axis titles, legend labels, tick labels). */
function svgTexts(svg: string): string[] {
  expect(XMLValidator.validate(svg)).toBe(true);
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '#text') texts.push(String(value));
        else walk(value);
      }
    }
  };
  walk(
    new XMLParser({ ignoreAttributes: true, preserveOrder: true, processEntities: true }).parse(
      svg,
    ),
  );
  return texts;
}

describe('renderRunSvg', () => {
  it('renders well-formed SVG with every series, panel and axis title', async () => {
    const svg = await renderRunSvg(curves);
    expect(svg.startsWith('<svg')).toBe(true);
    const texts = svgTexts(svg);
    for (const name of [
      'cp-llm tiny run',
      'total',
      'regression',
      'language_model',
      'step',
      'loss, EMA 0.9',
      'epoch',
      'correlation',
      'SRCC',
      'PLCC',
      'validation SRCC / PLCC',
      'flip rate',
      'flip@2',
      'flip@4',
    ]) {
      expect(texts, name).toContain(name);
    }
    // The diff with no pairs (rate null) has no series.
    expect(texts).not.toContain('flip@20');
  });

  it('is deterministic: the same input gives the same bytes', async () => {
    const a = await renderRunSvg(curves);
    const b = await renderRunSvg({ ...curves, steps: [...steps], evals: [...evals] });
    expect(b).toBe(a);
    const other = await renderRunSvg({ ...curves, title: 'another run' });
    expect(other).not.toBe(a);
  });

  it('escapes markup in the title', async () => {
    const texts = svgTexts(await renderRunSvg({ ...curves, title: 'run <a> & "b"' }));
    expect(
      texts.some((t) => t.includes('run <a> & "b"') || t.includes('run &lt;a&gt; &amp; "b"')),
    ).toBe(true);
  });

  it('renders empty curves with notes instead of panels', async () => {
    const texts = svgTexts(await renderRunSvg({ title: 'nothing yet', steps: [], evals: [] }));
    expect(texts).toContain('no training loss recorded');
    expect(texts).toContain('no validation results recorded');
  });

  it('renders losses without evaluations, and a single point', async () => {
    const texts = svgTexts(
      await renderRunSvg({
        title: 'one step',
        steps: [{ step: 5, epoch: 0, loss: 1.5, parts: {} }],
        evals: [],
      }),
    );
    expect(texts).toContain('total');
    expect(texts).toContain('no validation results recorded');
    expect(texts).not.toContain('NaN');
  });

  it('leaves out NaN, Infinity and null values', () => {
    const spec = runCurvesSpec(
      {
        title: 'gaps',
        steps: [
          { step: 1, epoch: 0, loss: Number.NaN, parts: { a: 1 } },
          { step: 2, epoch: 0, loss: 2, parts: { a: Number.POSITIVE_INFINITY } },
          { step: 3, epoch: 0, loss: 1, parts: { a: 0.5 } },
        ],
        evals: [
          {
            epoch: 1,
            step: 3,
            srcc: null,
            plcc: Number.NaN,
            flip: [{ diff: 2, rate: null, pairs: 0 }],
          },
          { epoch: 2, step: 6, srcc: 0.7, plcc: null, flip: [{ diff: 2, rate: 0.25, pairs: 4 }] },
        ],
      },
      { smoothing: 0 },
    );
    const json = JSON.stringify(spec);
    expect(json).not.toContain('null,"value"');
    const data = (
      spec as unknown as {
        vconcat: { data?: { values: unknown[] }; hconcat?: { data: { values: unknown[] } }[] }[];
      }
    ).vconcat;
    expect(data[0].data?.values).toEqual([
      { series: 'total', step: 2, value: 2, smoothed: 2 },
      { series: 'total', step: 3, value: 1, smoothed: 1 },
      { series: 'a', step: 1, value: 1, smoothed: 1 },
      { series: 'a', step: 3, value: 0.5, smoothed: 0.5 },
    ]);
    expect(data[1].hconcat?.[0].data.values).toEqual([{ series: 'SRCC', epoch: 2, value: 0.7 }]);
    expect(data[1].hconcat?.[1].data.values).toEqual([{ series: 'flip@2', epoch: 2, value: 0.25 }]);
  });

  it('smooths with a debiased EMA and drops non-positive losses on a log axis', () => {
    const spec = runCurvesSpec(
      {
        title: 'ema',
        steps: [
          { step: 1, epoch: 0, loss: 4, parts: {} },
          { step: 2, epoch: 0, loss: 0, parts: {} },
          { step: 3, epoch: 0, loss: 2, parts: {} },
        ],
        evals: [],
      },
      { smoothing: 0.5 },
    );
    const rows = (spec as unknown as { vconcat: { data: { values: { smoothed: number }[] } }[] })
      .vconcat[0].data.values;
    // EMA: 2, 1, 1.5; debiased by 1 − 0.5^k: 4, 4/3, 12/7.
    expect(rows.map((r) => r.smoothed)).toEqual([4, 4 / 3, 1.5 / 0.875]);
    const log = runCurvesSpec(
      {
        title: 'log',
        steps: [
          { step: 1, epoch: 0, loss: 0, parts: {} },
          { step: 2, epoch: 0, loss: 1, parts: {} },
        ],
        evals: [],
      },
      { logY: true },
    );
    expect(
      (log as unknown as { vconcat: { data: { values: unknown[] } }[] }).vconcat[0].data.values,
    ).toHaveLength(1);
  });

  it('rejects malformed curves and options with E_PLOT', async () => {
    await expect(
      renderRunSvg({ title: 'x', steps: 'no' as unknown as StepPoint[], evals: [] }),
    ).rejects.toThrow(/curves\.steps must be an array/);
    expect(() => runCurvesSpec(curves, { smoothing: 1 })).toThrow(TrainerError);
    expect(() => runCurvesSpec(curves, { smoothing: 1 })).toThrow(
      /smoothing must be a number in \[0, 1\), got 1/,
    );
  });
});

describe('plotRun', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-plot-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the SVG atomically and leaves nothing else', async () => {
    const file = join(dir, 'curves.svg');
    await plotRun(curves, file);
    expect(await readFile(file, 'utf8')).toBe(await renderRunSvg(curves));
    expect(await readdir(dir)).toEqual(['curves.svg']);
  });

  it('writes a PNG (upper-case extension too) with the SVG size times the scale', async () => {
    const file = join(dir, 'curves.PNG');
    await plotRun(curves, file, { pngScale: 1 });
    const png = await readFile(file);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const svg = await renderRunSvg(curves);
    const width = Number(/width="(\d+)"/.exec(svg)?.[1]);
    const height = Number(/height="(\d+)"/.exec(svg)?.[1]);
    expect(png.readUInt32BE(16)).toBe(width);
    expect(png.readUInt32BE(20)).toBe(height);
    expect(await readdir(dir)).toEqual(['curves.PNG']);
  });

  it('rejects an unknown extension with a typed error naming the file, writing nothing', async () => {
    const file = join(dir, 'curves.jpg');
    const error = await plotRun(curves, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerError);
    expect((error as TrainerError).code).toBe('E_PLOT');
    expect((error as TrainerError).message).toContain(file);
    expect((error as TrainerError).message).toMatch(
      /unknown file type "\.jpg"; use \.svg or \.png/,
    );
    await expect(plotRun(curves, join(dir, 'curves'))).rejects.toThrow(/unknown file type ""/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('removes its temporary file when the final rename fails', async () => {
    // The target is an existing directory: the temporary file is written, the rename fails.
    const file = join(dir, 'taken.svg');
    await mkdir(file);
    const error = await plotRun(curves, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerError);
    expect((error as TrainerError).code).toBe('E_PLOT');
    expect((error as TrainerError).message).toContain(`cannot write plot ${file}`);
    expect(await readdir(dir)).toEqual(['taken.svg']);
    expect(await readdir(file)).toEqual([]);
  });

  it('names the file when its directory does not exist', async () => {
    const file = join(dir, 'missing', 'curves.svg');
    await expect(plotRun(curves, file)).rejects.toThrow(`cannot write plot ${file}`);
    expect(await readdir(dir)).toEqual([]);
  });
});
