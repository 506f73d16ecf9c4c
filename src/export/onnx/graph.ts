// A small ONNX graph builder: nodes as onnx-proto messages, initializers described by name, type,
// shape and byte length up front and produced one at a time when written (write.ts), so that a
// model never has to sit in memory whole.
import { onnx } from 'onnx-proto';

/** ONNX TensorProto data types used here (INT4 = 22 is newer than onnx-proto's enum). */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7, BOOL: 9, INT4: 22 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

export interface Initializer {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Exact size of the raw data in bytes. */
  byteLength: number;
  /** The raw little-endian data; called once, when the initializer is written. */
  produce(): Promise<Uint8Array> | Uint8Array;
}

type AttrValue = number | number[] | string | { float: number };

export interface ValueInfo {
  name: string;
  elemType: DataType;
  /** A number is a fixed dimension, a string a symbolic one. */
  shape: Array<number | string>;
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private counter = 0;
  private readonly names = new Set<string>();
  private readonly consts = new Map<string, string>();

  fresh(hint: string): string {
    let n = `${hint}_${this.counter++}`;
    while (this.names.has(n)) n = `${hint}_${this.counter++}`;
    return n;
  }

  /** Adds a node with one output (its name is returned). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { domain?: string; name?: string } = {}): string {
    return this.opN(opType, inputs, 1, attrs, opts)[0];
  }

  /** Adds a node with `count` outputs. */
  opN(opType: string, inputs: string[], count: number, attrs: Record<string, AttrValue> = {}, opts: { domain?: string; name?: string; outputs?: string[] } = {}): string[] {
    const outputs = opts.outputs ?? Array.from({ length: count }, (_, i) => (i === 0 && opts.name ? opts.name : this.fresh(opType)));
    for (const o of outputs) this.names.add(o);
    this.nodes.push({
      opType,
      domain: opts.domain ?? '',
      input: inputs,
      output: outputs,
      name: this.fresh(`node_${opType}`),
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outputs;
  }

  initializer(init: Initializer): string {
    if (this.names.has(init.name)) throw new Error(`onnx graph: duplicate name ${init.name}`);
    this.names.add(init.name);
    this.initializers.push(init);
    return init.name;
  }

  /** A small constant held in memory (int64 or float), shared by value. */
  constI64(values: number[], dims: number[] = [values.length]): string {
    return this.constant(DT.INT64, values, dims);
  }

  constF32(values: number[], dims: number[] = [values.length]): string {
    return this.constant(DT.FLOAT, values, dims);
  }

  private constant(dataType: DataType, values: number[], dims: number[]): string {
    const key = `${dataType}:${dims.join('x')}:${values.join(',')}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const bytes = dataType === DT.INT64 ? new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer) : new Uint8Array(new Float32Array(values).buffer);
    const name = this.initializer({ name: this.fresh('const'), dataType, dims, byteLength: bytes.byteLength, produce: () => bytes });
    this.consts.set(key, name);
    return name;
  }

  input(v: ValueInfo): string {
    this.names.add(v.name);
    this.inputs.push(v);
    return v.name;
  }

  /** Marks `value` as a graph output named `name` (an Identity node renames it). */
  output(value: string, v: ValueInfo): void {
    this.op('Identity', [value], {}, { name: v.name });
    this.outputs.push(v);
  }
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

export function valueInfoProto(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
