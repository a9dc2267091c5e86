import { vqlmEslint } from '@vqlm/tooling/eslint';

export default vqlmEslint(import.meta.dirname);
