// Test helpers of this package's tests (not part of the build). The numeric
// checks (`expectArraysClose`, `gradientPair`) live in `@vqlm/runtime`.
import { expect } from 'vitest';
import { initBackend } from '@vqlm/runtime';

/** Selects the tfjs cpu backend (float32 everywhere; gradients registered), once per test file. */
export async function useCpuBackend(): Promise<void> {
  await initBackend({ backend: 'cpu' });
}

/** Asserts that `fn` throws an instance of `errorClass` with `code` and a message matching `pattern`. */
export function expectError(
  fn: () => unknown,
  errorClass: new (...args: never[]) => Error,
  code: string,
  pattern: RegExp,
): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(errorClass);
  expect((caught as { code?: unknown }).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}
