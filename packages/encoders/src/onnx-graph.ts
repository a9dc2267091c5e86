import { EncoderError } from './errors.js';
import { ONNX_ATTRIBUTE_TYPE, ONNX_DTYPE, onnxModelType } from './onnx-proto.js';

/** A node attribute: a float, an int, or lists of them. */
export type OnnxAttribute =
  | { readonly float: number }
  | { readonly int: number }
  | { readonly floats: readonly number[] }
  | { readonly ints: readonly number[] };

/** One graph input or output: float32 or int64 with fixed (number) or symbolic (string) dims. */
export interface OnnxValue {
  readonly name: string;
  readonly dtype: 'float32' | 'int64';
  readonly dims: readonly (number | string)[];
}

interface NodeRecord {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: Record<string, unknown>[];
}

/**
 * Builds an ONNX graph node by node and serialises it as a `ModelProto`
 * (default opset 17, IR version 8). Weights are initializers stored as
 * `raw_data` (little-endian).
 */
export class OnnxGraphBuilder {
  private readonly nodes: NodeRecord[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly inputs: OnnxValue[] = [];
  private readonly outputs: OnnxValue[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A fresh value name starting with `hint`. */
  fresh(hint: string): string {
    let name = `${hint}_${this.counter++}`;
    while (this.used.has(name)) name = `${hint}_${this.counter++}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new EncoderError('E_ONNX_EXPORT', `value name ${name} used twice`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input. */
  input(value: OnnxValue): string {
    this.inputs.push(value);
    return this.claim(value.name);
  }

  /** Declares `from` as graph output `name` (adds an Identity node when the names differ). */
  output(from: string, value: OnnxValue): void {
    if (from !== value.name) this.node('Identity', [from], {}, this.claim(value.name));
    this.outputs.push(value);
  }

  /** A float32 initializer of shape `dims` (`[]` for a scalar). */
  floats(hint: string, data: Float32Array | readonly number[], dims: readonly number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new EncoderError('E_ONNX_EXPORT', `${hint}: ${values.length} values for shape [${dims.join(', ')}]`);
    }
    const name = this.fresh(hint);
    this.initializers.push({
      name,
      dims: [...dims],
      data_type: ONNX_DTYPE.FLOAT,
      raw_data: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
    });
    return name;
  }

  /** A 1-D int64 initializer (shapes, axes, slice bounds). */
  ints(hint: string, values: readonly number[]): string {
    const name = this.fresh(hint);
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], data_type: ONNX_DTYPE.INT64, raw_data: new Uint8Array(raw.buffer) });
    return name;
  }

  /** Adds a node of the default domain; returns its (single) output name. */
  node(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}, output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    const attribute = Object.entries(attributes).map(([name, a]) => {
      if ('float' in a) return { name, type: ONNX_ATTRIBUTE_TYPE.FLOAT, f: a.float };
      if ('int' in a) return { name, type: ONNX_ATTRIBUTE_TYPE.INT, i: a.int };
      if ('floats' in a) return { name, type: ONNX_ATTRIBUTE_TYPE.FLOATS, floats: [...a.floats] };
      return { name, type: ONNX_ATTRIBUTE_TYPE.INTS, ints: [...a.ints] };
    });
    this.nodes.push({ input: [...inputs], output: [out], name: `${opType}_${this.nodes.length}`, op_type: opType, attribute });
    return out;
  }

  /** Serialises the graph as an ONNX `ModelProto`. */
  toBytes(options: { graphName?: string; opset?: number; producerVersion?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    const valueInfo = (v: OnnxValue): Record<string, unknown> => ({
      name: v.name,
      type: {
        tensor_type: {
          elem_type: v.dtype === 'float32' ? ONNX_DTYPE.FLOAT : ONNX_DTYPE.INT64,
          shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
        },
      },
    });
    const type = onnxModelType();
    const model = {
      ir_version: 8,
      opset_import: [{ domain: '', version: options.opset ?? 17 }],
      producer_name: '@vqlm/encoders',
      producer_version: options.producerVersion ?? '0',
      model_version: 1,
      graph: {
        name: options.graphName ?? 'graph',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
      metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const message = type.fromObject(model);
    return type.encode(message).finish();
  }
}
