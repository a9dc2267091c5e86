import type { UserConfig } from 'vitest/config';

/** Shared vitest config with workspace aliases to `src/` and a JSON report. */
export declare function vqlmVitest(overrides?: UserConfig): UserConfig;
