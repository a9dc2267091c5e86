import { vqlmTsup } from '@vqlm/tooling/tsup';

export default vqlmTsup({ entry: ['src/index.ts', 'src/bin.ts'] });
