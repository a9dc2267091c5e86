import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, defaultBackendCandidates, initBackend, type BackendCandidate } from './backend.js';
import { BackendError, RuntimeError } from './errors.js';
import { tf } from './tf.js';

const savedEnv = process.env.VQLM_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.VQLM_BACKEND;
  else process.env.VQLM_BACKEND = savedEnv;
});

describe('initBackend', () => {
  it('tries node-gpu → node → wasm → cpu, skips the native ones whose addon is missing, and logs once', async () => {
    delete process.env.VQLM_BACKEND;
    expect(defaultBackendCandidates.map((c) => c.name)).toEqual([...BACKEND_ORDER]);
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    // Here the tfjs-node packages are installed without their native addon (install scripts not run).
    expect(info.name).toBe('wasm');
    expect(info.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.tried.map((t) => t.name)).toEqual(['node-gpu', 'node', 'wasm']);
    expect(info.tried[0].error).toMatch(/@tensorflow\/tfjs-node-gpu .*native addon \(tfjs_binding\.node\) is not built; run `pnpm rebuild @tensorflow\/tfjs-node-gpu`/);
    expect(info.tried[1].error).toMatch(/@tensorflow\/tfjs-node .*not built/);
    expect(info.tried[2].error).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vqlm: tensor backend wasm \(tfjs "wasm"\) \(simd=true; threads=(true|false); skipped: node-gpu, node\)$/);
    const again = await initBackend({ log: (l) => lines.push(l) });
    expect(again.name).toBe('wasm');
    expect(lines).toHaveLength(1);
    // gradients are registered by initBackend (tfjs-core alone has none)
    expect(tf.getGradient('GatherV2')).toBeDefined();
  });

  it('throws when an explicitly requested backend fails, never falling back', async () => {
    const call = initBackend({ backend: 'node', log: () => {} });
    await expect(call).rejects.toBeInstanceOf(BackendError);
    await expect(call).rejects.toThrow(/backend "node" was requested but failed to initialise: node: .*tfjs_binding\.node/);
    const err = await initBackend({ backend: 'node-gpu', log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('E_BACKEND');
    expect(tf.getBackend()).toBe('wasm'); // unchanged
  });

  it('VQLM_BACKEND overrides the order; a bad value is an error', async () => {
    process.env.VQLM_BACKEND = 'cpu';
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    expect(info).toEqual({ name: 'cpu', tfBackend: 'cpu', tried: [{ name: 'cpu' }] });
    expect(tf.getBackend()).toBe('cpu');
    expect(lines).toEqual(['vqlm: tensor backend cpu (tfjs "cpu")']);
    process.env.VQLM_BACKEND = 'node';
    await expect(initBackend({ log: () => {} })).rejects.toThrow(/backend "node" was requested by VQLM_BACKEND but failed/);
    process.env.VQLM_BACKEND = 'gpu';
    await expect(initBackend({ log: () => {} })).rejects.toThrow(/VQLM_BACKEND must be one of node-gpu, node, wasm, cpu, got "gpu"/);
    // an explicit option beats the environment
    const wasm = await initBackend({ backend: 'wasm', log: () => {} });
    expect(wasm.name).toBe('wasm');
  });

  it('skips and records a candidate whose module is missing or whose init fails', async () => {
    delete process.env.VQLM_BACKEND;
    const missing: BackendCandidate = {
      name: 'node', tfBackend: 'tensorflow',
      async load() {
        const specifier: string = '@tensorflow/does-not-exist';
        await import(specifier);
      },
    };
    const unregistered: BackendCandidate = { name: 'node-gpu', tfBackend: 'no-such-backend', load: async () => {} };
    const cpu = defaultBackendCandidates.find((c) => c.name === 'cpu')!;
    const info = await initBackend({ candidates: [unregistered, missing, cpu], log: () => {} });
    expect(info.name).toBe('cpu');
    expect(info.tried[0]).toEqual({ name: 'node-gpu', error: 'loading did not register the tfjs backend "no-such-backend"' });
    expect(info.tried[1].error).toMatch(/does-not-exist/);
    await expect(initBackend({ candidates: [missing], log: () => {} })).rejects.toThrow(/no tensor backend could be initialised: node: .*does-not-exist/);
    await expect(initBackend({ backend: 'wasm', candidates: [cpu], log: () => {} })).rejects.toThrow(/no candidate provides backend "wasm"/);
  });

  it('rejects bad arguments', async () => {
    await expect(initBackend({ backend: 'tpu' as 'cpu' })).rejects.toThrow(/initBackend: backend must be one of node-gpu, node, wasm, cpu, got "tpu"/);
    await expect(initBackend({ threads: 0 })).rejects.toThrow(/threads must be a positive integer, got 0/);
  });
});
