// One GGUF export, for the CLI and the page alike: which files, and how to write each. Everything
// that can be refused (architecture, tokenizer, adapter, type) is checked here, before a byte is
// written; the caller streams each file to its destination (a temp file renamed, a zip entry).

import type { TokenizerFiles } from '../../data/tokenizer';
import type { ModelFolder } from '../../engine/model/weights';
import type { ExportSource } from '../source';
import { GgufExportError } from './errors';
import { EXPORT_TYPES, type ExportType } from './ggml-types';
import { adapterPlan, modelPlan, type GgufPlan } from './model';
import { modelfile, readme } from './modelfile';
import { tokenizerMetadata } from './tokenizer';
import { writeGguf } from './writer';
import type { ByteSink } from '../../util/byte-sink';

export type GgufFormat = 'gguf' | 'gguf-adapter';

export interface GgufExportFile {
  name: string;
  /** Streams the file to `sink`; resolves to its size in bytes. */
  write(sink: ByteSink): Promise<number>;
}

export interface GgufExport {
  format: GgufFormat;
  type: ExportType;
  files: GgufExportFile[];
  warnings: string[];
}

export function parseExportType(s: string | undefined, format: GgufFormat): ExportType {
  if (s === undefined) return format === 'gguf-adapter' ? 'f32' : 'f16';
  if (!(EXPORT_TYPES as readonly string[]).includes(s)) throw new GgufExportError(`--type ${JSON.stringify(s)} is not one of ${EXPORT_TYPES.join(', ')}`);
  return s as ExportType;
}


const ggufFile = (name: string, plan: GgufPlan): GgufExportFile => ({ name, write: (sink) => writeGguf(sink, plan.kv, plan.tensors) });

const textFile = (name: string, text: string): GgufExportFile => ({
  name,
  async write(sink) {
    const b = new TextEncoder().encode(text);
    await sink.write(b);
    return b.length;
  },
});

/**
 * The files of a GGUF export of `src`: `gguf` writes the model (merged with the source's adapter
 * when it has one), `gguf-adapter` the adapter alone; both add an Ollama Modelfile and a README.
 */
export function planGgufExport(src: ExportSource, tokenizer: TokenizerFiles, format: GgufFormat, type: ExportType): GgufExport {
  if (format === 'gguf') {
    const plan = modelPlan(src, tokenizer, type);
    const model = `${src.adapter ? 'model' : 'base'}-${type}.gguf`;
    return {
      format,
      type,
      warnings: plan.warnings,
      files: [
        ggufFile(model, plan),
        textFile('Modelfile', modelfile({ from: model, chatTemplate: plan.tokenizer.chatTemplate, stops: plan.tokenizer.stops })),
        textFile('README.md', readme({ model, merged: src.adapter !== null, type })),
      ],
    };
  }
  const plan = adapterPlan(src, type);
  const tok = tokenizerMetadata(tokenizer, src.spec.vocabSize, { bos: src.spec.bosTokenId, eos: src.spec.eosTokenId, pad: src.spec.padTokenId });
  const adapter = `adapter-${type}.gguf`;
  // The base GGUF is another export (`--format gguf` without an adapter) into ./base.
  const base = `base/base-${type}.gguf`;
  return {
    format,
    type,
    warnings: [...plan.warnings, ...tok.warnings],
    files: [
      ggufFile(adapter, plan),
      textFile('Modelfile', modelfile({ from: base, adapter, chatTemplate: tok.chatTemplate, stops: tok.stops })),
      textFile('README.md', readme({ model: base, adapter, merged: false, type })),
    ],
  };
}
