// Shared flat ESLint config for vqlm packages.
// Usage in a package's eslint.config.js:
//   import { vqlmEslint } from '@vqlm/tooling/eslint';
//   export default vqlmEslint(import.meta.dirname);
import tseslint from 'typescript-eslint';

export function vqlmEslint(tsconfigRootDir) {
  return tseslint.config(
    { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '*.config.*'] },
    ...tseslint.configs.recommendedTypeChecked,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir },
      },
      rules: {
        '@typescript-eslint/no-floating-promises': 'error',
        '@typescript-eslint/no-explicit-any': 'error',
        '@typescript-eslint/consistent-type-imports': 'error',
        '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
        '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      },
    },
    // Plain JavaScript (scripts run by node directly) is outside the TypeScript project: lint it without type information.
    { files: ['**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
    {
      files: ['**/*.test.ts', '**/__fixtures__/**', 'bench/**'],
      rules: {
        '@typescript-eslint/no-unsafe-assignment': 'off',
        '@typescript-eslint/no-unsafe-member-access': 'off',
        '@typescript-eslint/no-non-null-assertion': 'off',
      },
    },
  );
}
