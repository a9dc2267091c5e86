/**
 * Runs `tasks` with at most `concurrency` in flight. Stops starting new tasks
 * once `signal` is aborted or `shouldStop()` is true; resolves when every
 * started task has settled. A task's rejection rejects the pool after the
 * in-flight ones settle (tasks that must not stop the pool catch their own
 * errors).
 */
export async function runPool(
  tasks: readonly (() => Promise<void>)[],
  concurrency: number,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && !signal?.aborted && !failure) {
      const task = tasks[next++];
      try {
        await task();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, tasks.length)) }, worker));
  if (failure) throw failure.err;
}
