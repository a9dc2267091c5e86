import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matMulAddModel } from './__fixtures__/onnx-model.js';
import { OnnxSessionError, RuntimeError } from './errors.js';
import { createOnnxSession, type OnnxSession } from './onnx-session.js';

const K = 3;
const N = 2;
const w = Float32Array.from([1, 2, 3, 4, 5, 6]); // [3, 2]
const b = Float32Array.from([0.5, -1]);

describe('createOnnxSession', () => {
  let dir: string;
  let session: OnnxSession;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-onnx-'));
    await writeFile(join(dir, 'model.onnx'), matMulAddModel(w, b, K, N));
    session = await createOnnxSession(join(dir, 'model.onnx'), { threads: 1, executionProviders: ['cpu'] });
  });
  afterAll(async () => {
    await session.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads names, types and shapes (symbolic dims kept as strings)', () => {
    expect(session.inputNames).toEqual(['x', 'ids']);
    expect(session.outputNames).toEqual(['y', 'idsFloat']);
    expect(session.inputs[0]).toEqual({ name: 'x', type: 'float32', shape: ['batch', 3] });
    expect(session.inputs[1]).toEqual({ name: 'ids', type: 'int64', shape: [2] });
    expect(session.executionProviders).toEqual(['cpu']);
  });

  it('runs MatMul + Add and matches the hand-computed result for two batch sizes', async () => {
    const out = await session.run({ x: { data: Float32Array.from([1, 0, 2, 0, 1, 1]), dims: [2, 3] }, ids: { data: BigInt64Array.from([7n, -2n]), dims: [2] } });
    expect(out.y.dims).toEqual([2, 2]);
    // [1,0,2]·w = [1+10, 2+12] = [11, 14]; [0,1,1]·w = [3+5, 4+6] = [8, 10]; + b
    expect(Array.from(out.y.data)).toEqual([11.5, 13, 8.5, 9]);
    expect(Array.from(out.idsFloat.data)).toEqual([7, -2]);
    const one = await session.run({ x: { data: Float32Array.from([1, 1, 1]), dims: [1, 3] }, ids: { data: Int32Array.from([3, 4]), dims: [2] } });
    expect(one.y.dims).toEqual([1, 2]);
    expect(Array.from(one.y.data)).toEqual([9.5, 11]);
    expect(Array.from(one.idsFloat.data)).toEqual([3, 4]); // Int32Array widened to int64
  });

  it('loads from bytes as well as from a path', async () => {
    const fromBytes = await createOnnxSession(matMulAddModel(w, b, K, N), { executionProviders: ['cpu'] });
    const out = await fromBytes.run({ x: { data: new Float32Array(3), dims: [1, 3] }, ids: { data: new BigInt64Array(2), dims: [2] } });
    expect(Array.from(out.y.data)).toEqual([0.5, -1]);
    await fromBytes.dispose();
    await expect(fromBytes.run({})).rejects.toThrow(/disposed/);
  });

  const ids = { data: new BigInt64Array(2), dims: [2] };
  it('rejects a feed with the wrong rank, naming the input and both shapes', async () => {
    const call = session.run({ x: { data: new Float32Array(3), dims: [3] }, ids });
    await expect(call).rejects.toBeInstanceOf(OnnxSessionError);
    await expect(call).rejects.toThrow(/input "x" expects shape \[batch, 3\], got \[3\]/);
  });

  it('rejects a feed with a wrong fixed dim', async () => {
    await expect(session.run({ x: { data: new Float32Array(8), dims: [2, 4] }, ids })).rejects.toThrow(/input "x" expects shape \[batch, 3\], got \[2, 4\]/);
  });

  it('rejects missing, unknown, mistyped and mis-sized feeds', async () => {
    const x = { data: new Float32Array(3), dims: [1, 3] };
    await expect(session.run({ x })).rejects.toThrow(/missing input "ids" of shape \[2\] \(int64\)/);
    await expect(session.run({ x, ids, extra: x })).rejects.toThrow(/unknown input\(s\) extra; the model's inputs are x, ids/);
    await expect(session.run({ x: { data: new Int32Array(3), dims: [1, 3] }, ids })).rejects.toThrow(/input "x" must be float32 \(Float32Array\), got Int32Array/);
    await expect(session.run({ x: { data: new Float32Array(4), dims: [1, 3] }, ids })).rejects.toThrow(/input "x" has dims \[1, 3\] \(3 elements\) but data of length 4/);
    const err = await session.run({ x }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('E_ONNX_INPUT');
  });

  it('fails to load garbage or bad options with E_ONNX_LOAD', async () => {
    await expect(createOnnxSession(new Uint8Array([1, 2, 3]))).rejects.toThrow(/cannot load 3-byte model with providers \[cpu/);
    await expect(createOnnxSession(join(dir, 'missing.onnx'))).rejects.toMatchObject({ code: 'E_ONNX_LOAD' });
    await expect(createOnnxSession(join(dir, 'model.onnx'), { threads: 0 })).rejects.toThrow(/threads must be a positive integer, got 0/);
    await expect(createOnnxSession(join(dir, 'model.onnx'), { executionProviders: [] })).rejects.toThrow(/executionProviders must be a non-empty list/);
  });
});
