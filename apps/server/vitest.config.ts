import { vqlmVitest } from '@vqlm/tooling/vitest';

export default vqlmVitest();
