import type { Linter } from 'eslint';

/** Shared flat ESLint config (typescript-eslint, type-checked). */
export declare function vqlmEslint(tsconfigRootDir: string): Linter.Config[];
