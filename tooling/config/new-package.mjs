#!/usr/bin/env node
// Scaffolds packages/<name> with the shared configs:
//   node tooling/config/new-package.mjs <name> "<description>"
// It writes only the configuration files; the package is not worth committing
// until src/index.ts exports working code with tests beside it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [name, description = ''] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: new-package.mjs <kebab-name> "<description>"');
  process.exit(2);
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'packages', name);
if (existsSync(join(dir, 'package.json'))) {
  console.error(`packages/${name} already exists`);
  process.exit(2);
}
mkdirSync(join(dir, 'src'), { recursive: true });
const pkg = {
  name: `@vqlm/${name}`,
  version: '0.0.0',
  description,
  license: 'Apache-2.0',
  type: 'module',
  sideEffects: false,
  exports: {
    '.': { types: './dist/index.d.ts', import: './dist/index.js' },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist', 'README.md', 'CHANGELOG.md'],
  scripts: {
    build: 'tsup',
    test: 'vitest run',
    lint: 'eslint .',
    typecheck: 'tsc --noEmit',
    'check:package': 'publint',
  },
  dependencies: {},
  devDependencies: { '@vqlm/tooling': 'workspace:*' },
  publishConfig: { access: 'public' },
};
const files = {
  'package.json': JSON.stringify(pkg, null, 2) + '\n',
  'tsconfig.json':
    JSON.stringify({ extends: '@vqlm/tooling/tsconfig.base.json', include: ['src', 'bench'] }, null, 2) + '\n',
  'tsup.config.ts': "import { vqlmTsup } from '@vqlm/tooling/tsup';\n\nexport default vqlmTsup();\n",
  'vitest.config.ts': "import { vqlmVitest } from '@vqlm/tooling/vitest';\n\nexport default vqlmVitest();\n",
  'eslint.config.js':
    "import { vqlmEslint } from '@vqlm/tooling/eslint';\n\nexport default vqlmEslint(import.meta.dirname);\n",
};
for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
console.log(`created packages/${name}`);
