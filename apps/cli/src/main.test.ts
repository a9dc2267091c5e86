import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';
import { CliError, formatError } from './cli-error.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return { out, err };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('vqlm main', () => {
  it('prints help and exits 0 with --help', async () => {
    const { out } = capture();
    const code = await main(['node', 'vqlm', '--help']);
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/Usage: vqlm/);
  });

  it('prints the version with --version', async () => {
    const { out } = capture();
    const code = await main(['node', 'vqlm', '--version']);
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('rejects an unknown command with a non-zero exit and a message', async () => {
    const { err } = capture();
    const code = await main(['node', 'vqlm', 'no-such-command']);
    expect(code).not.toBe(0);
    expect(err.join('')).toMatch(/unknown command 'no-such-command'/);
  });
});

describe('formatError', () => {
  it('keeps the first line and appends a package error code', () => {
    const e = Object.assign(new Error('bad file x.mp4\nmore detail'), { code: 'E_DECODE' });
    expect(formatError(e)).toBe('bad file x.mp4 [E_DECODE]');
  });

  it('does not repeat a code already in the message', () => {
    expect(formatError(new CliError('E_CLI: broken'))).toBe('E_CLI: broken');
  });

  it('stringifies non-errors', () => {
    expect(formatError(42)).toBe('42');
  });
});
