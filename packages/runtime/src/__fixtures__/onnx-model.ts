// Writes tiny ONNX models for tests with protobufjs and the few fields of the
// ONNX schema (onnx/onnx.proto3) these graphs need. Test-only: the project's
// real exporter lives in @vqlm/encoders.
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { id: 1, type: 'int64' },
            producerName: { id: 2, type: 'string' },
            graph: { id: 7, type: 'GraphProto' },
            opsetImport: { id: 8, rule: 'repeated', type: 'OperatorSetIdProto' },
          },
        },
        OperatorSetIdProto: { fields: { domain: { id: 1, type: 'string' }, version: { id: 2, type: 'int64' } } },
        GraphProto: {
          fields: {
            node: { id: 1, rule: 'repeated', type: 'NodeProto' },
            name: { id: 2, type: 'string' },
            initializer: { id: 5, rule: 'repeated', type: 'TensorProto' },
            input: { id: 11, rule: 'repeated', type: 'ValueInfoProto' },
            output: { id: 12, rule: 'repeated', type: 'ValueInfoProto' },
          },
        },
        NodeProto: {
          fields: {
            input: { id: 1, rule: 'repeated', type: 'string' },
            output: { id: 2, rule: 'repeated', type: 'string' },
            name: { id: 3, type: 'string' },
            opType: { id: 4, type: 'string' },
            attribute: { id: 5, rule: 'repeated', type: 'AttributeProto' },
          },
        },
        AttributeProto: { fields: { name: { id: 1, type: 'string' }, i: { id: 3, type: 'int64' }, type: { id: 20, type: 'int32' } } },
        TensorProto: {
          fields: {
            dims: { id: 1, rule: 'repeated', type: 'int64' },
            dataType: { id: 2, type: 'int32' },
            name: { id: 8, type: 'string' },
            rawData: { id: 9, type: 'bytes' },
          },
        },
        ValueInfoProto: { fields: { name: { id: 1, type: 'string' }, type: { id: 2, type: 'TypeProto' } } },
        TypeProto: {
          fields: { tensorType: { id: 1, type: 'TensorTypeProto' } },
        },
        TensorTypeProto: { fields: { elemType: { id: 1, type: 'int32' }, shape: { id: 2, type: 'TensorShapeProto' } } },
        TensorShapeProto: { fields: { dim: { id: 1, rule: 'repeated', type: 'Dimension' } } },
        Dimension: { fields: { dimValue: { id: 1, type: 'int64' }, dimParam: { id: 2, type: 'string' } } },
      },
    },
  },
});

const FLOAT = 1;
const INT64 = 7;

function valueInfo(name: string, elemType: number, dims: (number | string)[]): object {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function floatTensor(name: string, dims: number[], values: Float32Array): object {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

function encode(graph: object): Uint8Array {
  const Model = root.lookupType('onnx.ModelProto');
  const message = Model.fromObject({ irVersion: 8, producerName: 'vqlm-runtime-test', opsetImport: [{ domain: '', version: 17 }], graph });
  return Model.encode(message).finish();
}

/**
 * `y = x · w + b` with x `[batch, K]` (batch symbolic), w `[K, N]`, b `[N]`;
 * plus `ids` int64 `[2]` → `idsFloat` = Cast(ids) float `[2]`.
 */
export function matMulAddModel(w: Float32Array, b: Float32Array, k: number, n: number): Uint8Array {
  return encode({
    name: 'matmul_add',
    node: [
      { input: ['x', 'w'], output: ['xw'], name: 'matmul', opType: 'MatMul' },
      { input: ['xw', 'b'], output: ['y'], name: 'add', opType: 'Add' },
      { input: ['ids'], output: ['idsFloat'], name: 'cast', opType: 'Cast', attribute: [{ name: 'to', i: FLOAT, type: 2 }] },
    ],
    initializer: [floatTensor('w', [k, n], w), floatTensor('b', [n], b)],
    input: [valueInfo('x', FLOAT, ['batch', k]), valueInfo('ids', INT64, [2])],
    output: [valueInfo('y', FLOAT, ['batch', n]), valueInfo('idsFloat', FLOAT, [2])],
  });
}

/** One MatMul `[m, k] · [k, n]` with both operands as inputs (for benchmarks). */
export function matMulModel(m: number, k: number, n: number): Uint8Array {
  return encode({
    name: 'matmul',
    node: [{ input: ['a', 'b'], output: ['c'], name: 'matmul', opType: 'MatMul' }],
    input: [valueInfo('a', FLOAT, [m, k]), valueInfo('b', FLOAT, [k, n])],
    output: [valueInfo('c', FLOAT, [m, n])],
  });
}
