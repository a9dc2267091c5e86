import { vqlmTsup } from '@vqlm/tooling/tsup';

export default vqlmTsup();
