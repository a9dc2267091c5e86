import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as metrics from './index.js';

const srcDir = dirname(fileURLToPath(import.meta.url));

describe('@vqlm/metrics public surface', () => {
  it('exports the documented names', () => {
    expect(Object.keys(metrics).sort()).toEqual(
      [
        'CP_LLM_FLIP_DIFFS',
        'FIT_KINDS',
        'MetricError',
        'bootstrapCI',
        'compareCorrelations',
        'fitLogistic',
        'flipRate',
        'flipRateByDiff',
        'initialLogisticBeta',
        'krcc',
        'pairedTTest',
        'plcc',
        'rmse',
        'srcc',
        'summary',
        'wilcoxonSignedRank',
      ].sort(),
    );
  });

  it('uses no Node built-ins and no runtime dependency (runs in browsers)', () => {
    const sources = readdirSync(srcDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(sources.length).toBeGreaterThan(5);
    for (const file of sources) {
      const text = readFileSync(join(srcDir, file), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      for (const spec of imports) expect(spec, `${file} imports ${spec}`).toMatch(/^\.\//);
    }
    const pkg = JSON.parse(readFileSync(join(srcDir, '..', 'package.json'), 'utf8')) as {
      dependencies?: object;
    };
    expect(pkg.dependencies ?? {}).toEqual({});
  });
});
