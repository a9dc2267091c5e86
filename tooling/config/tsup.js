// Shared tsup preset: ESM + .d.ts from src/index.ts (plus extra entries).
import { defineConfig } from 'tsup';

export function vqlmTsup({ entry = ['src/index.ts'], ...rest } = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    treeshake: true,
    ...rest,
  });
}
