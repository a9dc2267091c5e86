import { vqlmTsup } from '@vqlm/tooling/tsup';

export default [
  // keep dist/web: the web page is built by the second config
  vqlmTsup({ entry: ['src/index.ts', 'src/bin.ts'], clean: ['!web/**'] }),
  // the web page: src/web/app.ts bundled for browsers, src/web/public copied beside it
  vqlmTsup({ entry: { app: 'src/web/app.ts' }, outDir: 'dist/web', platform: 'browser', target: 'es2022', dts: false, sourcemap: false, publicDir: 'src/web/public' }),
];
