import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plcc, summary } from '@vqlm/metrics';
import { makeTempDir, removeTempDir, runCli } from '../__fixtures__/run-cli.js';

const examples = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../examples/metrics');

describe('vqlm metrics', () => {
  let dir: string;
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  let pred: string;
  let gt: string;

  beforeAll(async () => {
    dir = await makeTempDir('metrics');
    // Rows in a different order in the two files: joined on id.
    pred = await file('pred.csv', 'id,score\nc,3.1\na,1.2\nb,2.4\nd,4.4\ne,3.9\n');
    gt = await file('gt.csv', 'id,mos\na,1.5\nb,2.0\nc,3.5\nd,4.1\ne,4.2\n');
  });
  afterAll(async () => removeTempDir(dir));

  it('prints {n, srcc, plcc, krcc, rmse} as JSON, joined on id', async () => {
    const { code, stdout, stderr } = await runCli([
      'metrics',
      '--pred',
      pred,
      '--gt',
      gt,
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, number>;
    expect(Object.keys(result)).toEqual(['n', 'srcc', 'plcc', 'krcc', 'rmse']);
    expect(result).toEqual(summary([1.2, 2.4, 3.1, 4.4, 3.9], [1.5, 2.0, 3.5, 4.1, 4.2]));
    expect(result.srcc).toBeCloseTo(1 - (6 * 2) / (5 * 24), 12); // d and e swapped
  });

  it('applies --fit to PLCC and RMSE and accepts id,score for the ground truth', async () => {
    const gtScore = await file('gt-score.csv', 'id,score\na,1.5\nb,2.0\nc,3.5\nd,4.1\ne,4.0\n');
    const { code, stdout } = await runCli([
      'metrics',
      '--pred',
      pred,
      '--gt',
      gtScore,
      '--fit',
      'logistic5',
      '--json',
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, number>;
    expect(result.plcc).toBe(
      plcc([1.2, 2.4, 3.1, 4.4, 3.9], [1.5, 2.0, 3.5, 4.1, 4.0], { fit: 'logistic5' }),
    );
  });

  it('prints a readable table without --json (the README example files)', async () => {
    const args = [
      'metrics',
      '--pred',
      join(examples, 'pred.csv'),
      '--gt',
      join(examples, 'gt.csv'),
      '--fit',
      'logistic4',
    ];
    const { code, stdout } = await runCli(args);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^n {5}20\nsrcc {2}0\.\d{4}\nplcc {2}0\.\d{4} \(after 4-parameter logistic fit\)\nkrcc/,
    );
  });

  it('has --help', async () => {
    const { code, stdout } = await runCli(['metrics', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--pred <csv>/);
    expect(stdout).toMatch(/--fit <kind>.*\(choices: "none", "logistic4", "logistic5"/s);
  });

  const bad: [string, string, string, RegExp][] = [
    ['an empty file', 'pred', '', /pred-bad\.csv:1: empty file \(expected a header: id,score\)/],
    [
      'a header without rows',
      'pred',
      'id,score\n',
      /pred-bad\.csv:1: no data rows after the header/,
    ],
    [
      'a missing column',
      'pred',
      'id,value\na,1\n',
      /pred-bad\.csv:1: missing column 'score' \(header: id,value\)/,
    ],
    [
      'a bad number',
      'pred',
      'id,score\na,1.2\nb,abc\nc,3\n',
      /pred-bad\.csv:3: bad score 'abc' for id 'b' \(not a finite number\)/,
    ],
    ['an empty value', 'gt', 'id,mos\na,1\nb,\n', /gt-bad\.csv:3: bad mos '' for id 'b'/],
    [
      'a duplicate id',
      'gt',
      'id,mos\na,1\nb,2\na,3\n',
      /gt-bad\.csv:4: duplicate id 'a' \(first on line 2\)/,
    ],
    ['a ragged row', 'pred', 'id,score\na,1\nb,2,3\n', /pred-bad\.csv:3: Invalid Record Length/],
  ];
  it.each(bad)(
    'fails with one line naming the file and line for %s',
    async (_name, which, text, message) => {
      const badFile = await file(`${which}-bad.csv`, text);
      const args = [
        'metrics',
        '--pred',
        which === 'pred' ? badFile : pred,
        '--gt',
        which === 'gt' ? badFile : gt,
      ];
      const { code, stdout, stderr } = await runCli(args);
      expect(code).not.toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/^vqlm: [^\n]*\n$/); // one line, no stack trace
    },
  );

  it('fails on ids missing from either file, naming the file and line', async () => {
    const fewer = await file('pred-fewer.csv', 'id,score\na,1\nb,2\nc,3\nd,4\n');
    let run = await runCli(['metrics', '--pred', fewer, '--gt', gt]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /^vqlm: .*gt\.csv:6: id 'e' has no prediction in .*pred-fewer\.csv \[E_MISSING_ID\]\n$/,
    );
    const extra = await file('pred-extra.csv', 'id,score\na,1\nb,2\nc,3\nd,4\ne,5\nf,6\n');
    run = await runCli(['metrics', '--pred', extra, '--gt', gt]);
    expect(run.stderr).toMatch(/pred-extra\.csv:7: id 'f' has no ground truth in .*gt\.csv/);
  });

  it('fails on a missing file and on metric errors with one line', async () => {
    let run = await runCli(['metrics', '--pred', join(dir, 'nope.csv'), '--gt', gt]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^vqlm: .*nope\.csv: cannot read the file \(ENOENT\)/);
    const constant = await file('pred-constant.csv', 'id,score\na,2\nb,2\nc,2\nd,2\ne,2\n');
    run = await runCli(['metrics', '--pred', constant, '--gt', gt]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /^vqlm: .*pred-constant\.csv vs .*gt\.csv: pred is constant .*\[E_CONSTANT\]\n$/,
    );
  });

  it('rejects an unknown --fit and a missing --gt', async () => {
    let run = await runCli(['metrics', '--pred', pred, '--gt', gt, '--fit', 'cubic']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/argument 'cubic' is invalid/);
    run = await runCli(['metrics', '--pred', pred]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/required option '--gt <csv>' not specified/);
  });
});
