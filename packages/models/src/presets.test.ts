import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CpLlm } from './cp-llm.js';
import { ModelError } from './errors.js';
import { cpLlmPreset, findDefaultModel, presetTokenizer } from './presets.js';
import { useTestBackend } from './__fixtures__/tiny.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vqlm-presets-'));
  dirs.push(dir);
  return dir;
}

describe('cpLlmPreset', () => {
  it('builds a micro model whose tokenizer fits its vocabulary', async () => {
    await useTestBackend();
    const config = cpLlmPreset('micro', { seed: 5, m: 3 });
    expect(config.m).toBe(3);
    expect(config.seed).toBe(5);
    const model = await CpLlm.create(config, { tokenizer: presetTokenizer('micro') });
    expect(model.dim).toBe(16);
    await model.dispose();
  });

  it('names an unknown preset', () => {
    expect(() => cpLlmPreset('huge' as 'micro')).toThrow(/unknown name huge/);
  });
});

describe('findDefaultModel', () => {
  it('finds models/vqlm-tiny walking up from a directory', () => {
    const root = tempDir();
    mkdirSync(join(root, 'models', 'vqlm-tiny'), { recursive: true });
    writeFileSync(join(root, 'models', 'vqlm-tiny', 'model.json'), '{}');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    expect(findDefaultModel({ env: {}, from: [join(root, 'a', 'b')] })).toBe(join(root, 'models', 'vqlm-tiny'));
  });

  it('returns null when there is none, and prefers VQLM_MODEL', () => {
    const root = tempDir();
    expect(findDefaultModel({ env: {}, from: [root] })).toBeNull();
    writeFileSync(join(root, 'model.json'), '{}');
    expect(findDefaultModel({ env: { VQLM_MODEL: root }, from: [] })).toBe(root);
  });

  it('rejects a VQLM_MODEL that is not a bundle, naming it', () => {
    const root = tempDir();
    expect(() => findDefaultModel({ env: { VQLM_MODEL: root } })).toThrow(ModelError);
    expect(() => findDefaultModel({ env: { VQLM_MODEL: root } })).toThrow(/VQLM_MODEL: .*\(no model.json\)/);
  });
});
