/**
 * An error the CLI reports as one line on stderr (no stack trace) before it
 * exits with `exitCode`. Errors from vqlm packages (anything with a string
 * `code`) are reported the same way; anything else is a bug and keeps its
 * stack when `VQLM_DEBUG` is set.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly code = 'E_CLI',
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The single line printed for `err`. */
export function formatError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = err.message.split('\n')[0] ?? '';
    return typeof code === 'string' && !message.includes(code) ? `${message} [${code}]` : message;
  }
  return String(err);
}
