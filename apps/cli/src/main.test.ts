import { describe, expect, it } from 'vitest';
import { CliError, formatError } from './cli-error.js';
import { runCli } from './__fixtures__/run-cli.js';

describe('vqlm main', () => {
  it('prints help and exits 0 with --help', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: vqlm/);
  });

  it('prints the version with --version', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('rejects an unknown command with a non-zero exit and a message', async () => {
    const { code, stderr } = await runCli(['no-such-command']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown command 'no-such-command'/);
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
