// Shared vitest config. Each package's vitest.config.ts:
//   import { vqlmVitest } from '@vqlm/tooling/vitest';
//   export default vqlmVitest();
// - Workspace packages resolve to their TypeScript source in tests, so a test
//   exercises the code beside it without a rebuild of its dependencies.
// - The JSON report in .vitest/ lets .ci/run print one total line for the repo.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function workspaceAliases() {
  const aliases = [];
  for (const group of ['packages', 'apps']) {
    const groupDir = join(repoRoot, group);
    if (!existsSync(groupDir)) continue;
    for (const dir of readdirSync(groupDir)) {
      const pkgFile = join(groupDir, dir, 'package.json');
      const entry = join(groupDir, dir, 'src', 'index.ts');
      if (!existsSync(pkgFile) || !existsSync(entry)) continue;
      const { name } = JSON.parse(readFileSync(pkgFile, 'utf8'));
      aliases.push({ find: new RegExp(`^${name.replace('/', '\\/')}$`), replacement: entry });
    }
  }
  return aliases;
}

export function vqlmVitest(overrides = {}) {
  return mergeConfig(
    defineConfig({
      resolve: { alias: workspaceAliases() },
      test: {
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        environment: 'node',
        testTimeout: 60_000,
        hookTimeout: 60_000,
        reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
      },
    }),
    overrides,
  );
}
