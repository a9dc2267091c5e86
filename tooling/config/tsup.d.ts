import type { Options } from 'tsup';

/** Shared tsup preset: ESM + .d.ts from `src/index.ts` (or `entry`). */
export declare function vqlmTsup(options?: Options): Options | Options[];
