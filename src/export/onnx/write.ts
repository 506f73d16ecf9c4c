// Writes a GraphBuilder's model as ONNX protobuf bytes to a sink, streaming the initializers.
//
// Why not ModelProto.encode of the whole model: protobufjs would need every initializer's bytes in
// memory at once, and then a second buffer as large for the encoding (a 1B-parameter int4 model
// would take two copies). Protobuf allows a message's fields in any order and merges repeated
// fields, so the small parts are encoded with onnx-proto (protobufjs) and each initializer is
// framed by hand (field tag, varint length, bytes) right when its data is produced, then dropped.
// Lengths are known up front because each initializer declares its exact byte length.
import { onnx } from 'onnx-proto';
import { valueInfoProto, type GraphBuilder } from './graph';
import type { ByteSink } from '../../util/byte-sink';


export class OnnxWriteError extends Error {
  override name = 'OnnxWriteError';
}

/** Protobuf's hard limit for one message; past it the weights go to an external data file. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
/** Room kept for the graph itself when deciding whether the weights fit inside the model file. */
const GRAPH_MARGIN = 64 * 2 ** 20;
const EXTERNAL_MIN_BYTES = 1024;

// Field numbers (onnx.proto): ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.raw_data = 9.
const MODEL_GRAPH_TAG = (7 << 3) | 2;
const GRAPH_INITIALIZER_TAG = (5 << 3) | 2;
const TENSOR_RAW_DATA_TAG = (9 << 3) | 2;

function varint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new OnnxWriteError(`varint: bad length ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export interface WriteModelOptions {
  opsets: Array<{ domain: string; version: number }>;
  irVersion: number;
  producer: string;
  /**
   * Where the weights go when they do not fit in one protobuf (2 GB): a sink for the data file
   * and its name as the model refers to it (beside the model). Without it, too large a model is
   * refused.
   */
  external?: { sink: () => Promise<ByteSink>; location: string };
  /** Forces external data even under the limit (tests). */
  forceExternal?: boolean;
}

export interface WrittenModel {
  modelBytes: number;
  /** Bytes of the external data file, or 0 when the weights are inside the model. */
  externalBytes: number;
}

/** Total bytes of the initializers' data. */
export function initializerBytes(g: GraphBuilder): number {
  return g.initializers.reduce((s, i) => s + i.byteLength, 0);
}

export async function writeModel(g: GraphBuilder, sink: ByteSink, opts: WriteModelOptions): Promise<WrittenModel> {
  const dataBytes = initializerBytes(g);
  const external = opts.forceExternal || dataBytes > PROTOBUF_LIMIT - GRAPH_MARGIN;
  if (external && !opts.external) throw new OnnxWriteError(`the weights (${dataBytes} bytes) do not fit in one ONNX file and no external data file was given`);

  // Tensor headers (everything but the data), and each initializer's frame length.
  let offset = 0;
  const heads = g.initializers.map((init) => {
    const base: onnx.ITensorProto = { name: init.name, dims: init.dims, dataType: init.dataType };
    // Small tensors (shapes, axes, scalars) stay inline: onnxruntime's shape inference reads them
    // while loading, before external data (as onnx's own save keeps tensors under 1 KiB inline).
    if (external && init.byteLength >= EXTERNAL_MIN_BYTES) {
      base.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      base.externalData = [
        { key: 'location', value: opts.external!.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(init.byteLength) },
      ];
      offset += init.byteLength;
      const msg = onnx.TensorProto.encode(base).finish();
      return { head: concat([Uint8Array.of(GRAPH_INITIALIZER_TAG), varint(msg.byteLength), msg]), inline: false };
    }
    const msg = onnx.TensorProto.encode(base).finish();
    const dataHead = concat([Uint8Array.of(TENSOR_RAW_DATA_TAG), varint(init.byteLength)]);
    const msgLen = msg.byteLength + dataHead.byteLength + init.byteLength;
    return { head: concat([Uint8Array.of(GRAPH_INITIALIZER_TAG), varint(msgLen), msg, dataHead]), inline: true };
  });

  const graphHead = onnx.GraphProto.encode({
    name: 'main',
    node: g.nodes,
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
  }).finish();
  const graphLen = graphHead.byteLength + heads.reduce((s, h, i) => s + h.head.byteLength + (h.inline ? g.initializers[i].byteLength : 0), 0);
  const modelHead = onnx.ModelProto.encode({
    irVersion: opts.irVersion,
    producerName: opts.producer,
    opsetImport: opts.opsets.map((o) => ({ domain: o.domain, version: o.version })),
  }).finish();
  const head = concat([modelHead, Uint8Array.of(MODEL_GRAPH_TAG), varint(graphLen), graphHead]);
  const modelBytes = head.byteLength + graphLen - graphHead.byteLength;
  if (modelBytes > PROTOBUF_LIMIT) throw new OnnxWriteError(`the model file would be ${modelBytes} bytes, past protobuf's 2 GB limit`);

  const dataSink = external ? await opts.external!.sink() : null;
  await sink.write(head);
  for (let i = 0; i < g.initializers.length; i++) {
    const init = g.initializers[i];
    const data = await init.produce();
    if (data.byteLength !== init.byteLength) {
      throw new OnnxWriteError(`initializer ${init.name}: produced ${data.byteLength} bytes, declared ${init.byteLength}`);
    }
    await sink.write(heads[i].head);
    await (heads[i].inline ? sink : dataSink!).write(data);
  }
  return { modelBytes, externalBytes: offset };
}
