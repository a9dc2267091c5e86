import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsError, type RuntimeError } from './errors.js';
import { f32ToBf16Bits, f32ToF16Bits } from './half.js';
import { expectNoTensorLeak } from './leak.js';
import { openSafetensors, writeSafetensors } from './safetensors.js';
import { tf } from './tf.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vqlm-st-'));
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a safetensors file by hand: 8-byte LE length, header JSON, data. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const values = Float32Array.from([0, 1, -2, 0.5, 3.140625, -65504, 1e-3, 7]);

describe('writeSafetensors → openSafetensors round trip', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`round-trips ${dtype} with metadata and shapes`, async () => {
      const path = join(dir, `rt-${dtype}.safetensors`);
      await writeSafetensors(path, {
        'b.weight': { shape: [2, 4], data: values },
        'a.bias': { shape: [3], data: Float32Array.from([1.5, -0.25, 2]) },
        scalar: { shape: [], data: Float32Array.from([42]) },
        empty: { shape: [0, 3], data: new Float32Array(0) },
      }, { dtype, metadata: { format: 'pt', note: 'ü' } });
      const file = await openSafetensors(path);
      expect(file.names).toEqual(['a.bias', 'b.weight', 'empty', 'scalar']);
      expect(file.metadata).toEqual({ format: 'pt', note: 'ü' });
      const bytes = dtype === 'F32' ? 4 : 2;
      expect(file.info('b.weight')).toEqual({ dtype, shape: [2, 4], byteLength: 8 * bytes });
      const read = await file.read('b.weight');
      const tolerance = dtype === 'F32' ? 0 : dtype === 'F16' ? 1e-3 : 1e-2;
      for (let i = 0; i < values.length; i++) expect(Math.abs(read[i] - values[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(values[i])));
      expect(Array.from(await file.read('scalar'))).toEqual([42]);
      expect((await file.read('empty')).length).toBe(0);
      await expectNoTensorLeak(async () => {
        const t = await file.tensor('a.bias');
        expect(t.shape).toEqual([3]);
        expect(Array.from(await t.data())).toEqual([1.5, -0.25, 2]);
        t.dispose();
      });
      await file.close();
      await expect(file.read('scalar')).rejects.toThrow(/is closed/);
    });
  }

  it('writes tf tensors (float32 and int32) and reads int32 back as an int32 tensor', async () => {
    const path = join(dir, 'tensors.safetensors');
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const ids = tf.tensor1d([5, -6, 7], 'int32');
    await writeSafetensors(path, { a, ids });
    a.dispose();
    ids.dispose();
    const file = await openSafetensors(path);
    expect(file.info('ids').dtype).toBe('I32');
    const t = await file.tensor('ids');
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([5, -6, 7]);
    t.dispose();
    expect(Array.from(await file.read('a'))).toEqual([1, 2, 3, 4]);
    await file.close();
  });

  it('leaves no temporary file behind and replaces an existing file atomically', async () => {
    const sub = join(dir, 'atomic');
    await mkdir(sub);
    const path = join(sub, 'w.safetensors');
    await writeSafetensors(path, { x: { shape: [1], data: Float32Array.from([1]) } });
    await writeSafetensors(path, { x: { shape: [1], data: Float32Array.from([2]) } });
    expect(await readdir(sub)).toEqual(['w.safetensors']);
    const file = await openSafetensors(path);
    expect(Array.from(await file.read('x'))).toEqual([2]);
    await file.close();
  });
});

describe('byte layout (checked by hand against the safetensors spec)', () => {
  it('writes length, space-padded JSON header and data sorted by name', async () => {
    const path = join(dir, 'layout.safetensors');
    await writeSafetensors(path, {
      zeta: { shape: [1], data: Float32Array.from([2]) },
      alpha: { shape: [2], data: Float32Array.from([1, -1]) },
    }, { metadata: { format: 'pt' } });
    const bytes = new Uint8Array(await readFile(path));
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const headerText = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    const json = '{"__metadata__":{"format":"pt"},"alpha":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"zeta":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(headerText.trimEnd()).toBe(json);
    expect(headerText.slice(json.length)).toMatch(/^ {0,7}$/);
    expect(bytes.length).toBe(8 + n + 12);
    // data: alpha = 1, -1 then zeta = 2, little-endian f32
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf, 0, 0, 0, 0x40]);
  });

  it('stores F16 and BF16 with round-to-nearest-even bit patterns', async () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(5.960464477539063e-8)).toBe(0x0001);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-3.140625)).toBe(0xc049);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
    const path = join(dir, 'half.safetensors');
    await writeSafetensors(path, { h: { shape: [2], data: Float32Array.from([1, -2]) } }, { dtype: 'F16' });
    const bytes = new Uint8Array(await readFile(path));
    expect(Array.from(bytes.subarray(bytes.length - 4))).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });

  it('reads a file written by hand with F16, BF16, F64 and I64 tensors', async () => {
    const data = new Uint8Array(2 * 2 + 2 * 2 + 8 + 8);
    const view = new DataView(data.buffer);
    view.setUint16(0, 0x3c00, true); view.setUint16(2, 0x8001, true); // 1, -2^-24 (subnormal)
    view.setUint16(4, 0x3f80, true); view.setUint16(6, 0xc049, true); // 1, -3.140625
    view.setFloat64(8, 0.1, true);
    view.setBigInt64(16, -12345n, true);
    const header = {
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      bf: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      i: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
    };
    const path = join(dir, 'hand.safetensors');
    await writeFile(path, rawFile(header, data));
    const file = await openSafetensors(path);
    expect(Array.from(await file.read('h'))).toEqual([1, -(2 ** -24)]);
    expect(Array.from(await file.read('bf'))).toEqual([1, -3.140625]);
    expect((await file.read('d'))[0]).toBeCloseTo(0.1, 7);
    expect(Array.from(await file.read('i'))).toEqual([-12345]);
    await file.close();
  });
});

describe('sharded checkpoints', () => {
  it('opens an index file or its directory and reads tensors from each shard', async () => {
    const sub = join(dir, 'sharded');
    await mkdir(sub);
    await writeSafetensors(join(sub, 'model-00001-of-00002.safetensors'), { 'layer.0.w': { shape: [2], data: Float32Array.from([1, 2]) } });
    await writeSafetensors(join(sub, 'model-00002-of-00002.safetensors'), { 'layer.1.w': { shape: [1], data: Float32Array.from([3]) } }, { dtype: 'BF16' });
    await writeFile(join(sub, 'model.safetensors.index.json'), JSON.stringify({
      metadata: { total_size: 12 },
      weight_map: { 'layer.0.w': 'model-00001-of-00002.safetensors', 'layer.1.w': 'model-00002-of-00002.safetensors' },
    }));
    for (const target of [sub, join(sub, 'model.safetensors.index.json')]) {
      const file = await openSafetensors(target);
      expect(file.names).toEqual(['layer.0.w', 'layer.1.w']);
      expect(file.metadata.total_size).toBe('12');
      expect(Array.from(await file.read('layer.0.w'))).toEqual([1, 2]);
      expect(file.info('layer.1.w').dtype).toBe('BF16');
      expect(Array.from(await file.read('layer.1.w'))).toEqual([3]);
      await file.close();
    }
  });

  it('rejects an index that maps a name to a shard without it, or has no weight_map', async () => {
    const sub = join(dir, 'bad-index');
    await mkdir(sub);
    await writeSafetensors(join(sub, 's1.safetensors'), { a: { shape: [1], data: Float32Array.from([1]) } });
    await writeFile(join(sub, 'x.safetensors.index.json'), JSON.stringify({ weight_map: { b: 's1.safetensors' } }));
    const call = openSafetensors(sub);
    await expect(call).rejects.toBeInstanceOf(SafetensorsError);
    await expect(call).rejects.toThrow(/maps "b" to s1.safetensors, which has no such tensor/);
    await writeFile(join(sub, 'x.safetensors.index.json'), JSON.stringify({ metadata: {} }));
    await expect(openSafetensors(sub)).rejects.toThrow(/has no weight_map object/);
  });
});

describe('malformed files → typed errors', () => {
  const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  async function open(name: string, bytes: Uint8Array): Promise<unknown> {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return openSafetensors(path).catch((e: unknown) => e);
  }

  it('truncated data', async () => {
    const path = join(dir, 'trunc.safetensors');
    await writeFile(path, rawFile(ok, eight));
    await truncate(path, (await readFile(path)).length - 3);
    const err = await openSafetensors(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as RuntimeError).code).toBe('E_SAFETENSORS_TRUNCATED');
    expect((err as Error).message).toMatch(/tensor "t" ends at data offset 8, the data section has 5 bytes/);
  });

  it('a file shorter than the length prefix, and a header length beyond the file', async () => {
    expect(await open('tiny.safetensors', new Uint8Array(5))).toMatchObject({ code: 'E_SAFETENSORS_TRUNCATED', message: expect.stringMatching(/5 bytes, fewer than the 8-byte header length/) });
    const bytes = rawFile(ok, eight);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    expect(await open('len.safetensors', bytes)).toMatchObject({ code: 'E_SAFETENSORS_TRUNCATED', message: expect.stringMatching(/header length 1000 needs 1008 bytes, file has/) });
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 40n, true);
    expect(await open('huge.safetensors', bytes)).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/exceeds the limit/) });
  });

  it('bad JSON, non-object header, bad dtype, bad shape', async () => {
    const badJson = await open('json.safetensors', rawFile(null, eight, '{"t": {'));
    expect(badJson).toBeInstanceOf(SafetensorsError);
    expect((badJson as Error).message).toMatch(/malformed safetensors header .*not valid UTF-8 JSON/);
    expect(await open('arr.safetensors', rawFile([1, 2], eight))).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/must be a JSON object/) });
    expect(await open('dtype.safetensors', rawFile({ t: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, eight))).toMatchObject({ code: 'E_SAFETENSORS_DTYPE', message: expect.stringMatching(/unsupported dtype "Q4" for tensor "t"/) });
    expect(await open('shape.safetensors', rawFile({ t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight))).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/invalid shape \[-2\]/) });
  });

  it('offsets inconsistent with the shape, out of range, overlapping, or leaving holes', async () => {
    expect(await open('size.safetensors', rawFile({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight))).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/data_offsets \[0, 8\] hold 8 bytes, shape \[3\] of F32 needs 12/) });
    expect(await open('range.safetensors', rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, eight))).toMatchObject({ code: 'E_SAFETENSORS_TRUNCATED', message: expect.stringMatching(/ends at data offset 16/) });
    const overlap = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    expect(await open('overlap.safetensors', rawFile(overlap, eight))).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/tensor "b" \[4, 8\] overlaps the previous tensor, which ends at 8/) });
    const hole = { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    expect(await open('hole.safetensors', rawFile(hole, eight))).toMatchObject({ code: 'E_SAFETENSORS_HEADER', message: expect.stringMatching(/hole in the data section: bytes \[0, 4\)/) });
  });

  it('unknown names, missing paths and bad write arguments', async () => {
    const path = join(dir, 'names.safetensors');
    await writeSafetensors(path, { 'encoder.layer.0.weight': { shape: [1], data: new Float32Array(1) } });
    const file = await openSafetensors(path);
    expect(() => file.info('layer.0.weight')).toThrow(SafetensorsError);
    expect(() => file.info('layer.0.weight')).toThrow(/no tensor named "layer.0.weight" in .* \(1 tensors; similar: encoder.layer.0.weight\)/);
    await file.close();
    await expect(openSafetensors(join(dir, 'nope.safetensors'))).rejects.toMatchObject({ code: 'E_SAFETENSORS_OPEN' });
    await expect(writeSafetensors(join(dir, 'w.safetensors'), { x: { shape: [2, 2], data: new Float32Array(3) } }))
      .rejects.toThrow(/tensor "x" has shape \[2, 2\] \(4 elements\) but data of length 3/);
    await expect(writeSafetensors(join(dir, 'w.safetensors'), { __metadata__: { shape: [1], data: new Float32Array(1) } })).rejects.toThrow(/invalid tensor name/);
    await expect(writeSafetensors(join(dir, 'w.safetensors'), {}, { dtype: 'F8' as 'F16' })).rejects.toThrow(/opts.dtype must be F32, F16 or BF16, got "F8"/);
  });
});
