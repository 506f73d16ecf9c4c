// The Transformers.js folder of an ONNX export: config.json (with transformers.js_config naming
// the dtype), generation_config.json, tokenizer.json, tokenizer_config.json (chat template
// inside) and onnx/model*.onnx (+ model*.onnx_data past 2 GB). Written through OutputFiles, so the
// same code fills a folder on disk (CLI) or a streamed .zip (the page).
import type { ModelFolder } from '../../engine/model/weights';
import { parseTokenizerTexts, readTokenizerTexts } from '../../data/tokenizer';
import { isJsonObject, parseUntrustedJson, readUntrustedJson } from '../../io/untrusted/json';
import type { ExportSource } from '../source';
import { buildDecoderGraph, IR_VERSION, OPSET, OnnxExportError, type OnnxQuant } from './decoder';
import type { GraphBuilder } from './graph';
import { writeModel } from './write';
import type { OutputFile, OutputFiles } from '../../util/byte-sink';

/** Transformers.js's dtype names and the model file each loads. */
export const ONNX_DTYPES: Record<OnnxQuant, { dtype: string; file: string }> = {
  none: { dtype: 'fp32', file: 'model.onnx' },
  int8: { dtype: 'q8', file: 'model_quantized.onnx' },
  int4: { dtype: 'q4', file: 'model_q4.onnx' },
};

export interface OnnxExportResult {
  quant: OnnxQuant;
  files: Array<{ path: string; bytes: number }>;
  bytes: number;
}

async function writeFile(out: OutputFiles, path: string, bytes: Uint8Array, files: OnnxExportResult['files']): Promise<void> {
  const f = await out.create(path);
  await f.write(bytes);
  await f.close();
  files.push({ path, bytes: bytes.byteLength });
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

/** `v` (untrusted JSON of `file`) as an object; OnnxExportError otherwise. */
function jsonObject(v: unknown, file: string): Record<string, unknown> {
  if (!isJsonObject(v)) throw new OnnxExportError(`${file}: must be a JSON object`);
  return v;
}

const untrusted = (file: string) => (_field: string | null, detail: string): never => {
  throw new OnnxExportError(`${file} ${detail}`);
};

/**
 * Writes onnx/model*.onnx of a built graph (and onnx/model*.onnx_data when the weights pass
 * protobuf's 2 GB), the file name Transformers.js loads for the dtype.
 */
export async function writeOnnxModel(graph: GraphBuilder, quant: OnnxQuant, create: (path: string) => Promise<OutputFile>): Promise<OnnxExportResult['files']> {
  const modelPath = `onnx/${ONNX_DTYPES[quant].file}`;
  const dataPath = `${modelPath}_data`;
  let dataFile: OutputFile | null = null;
  const model = await create(modelPath);
  const written = await writeModel(graph, model, {
    opsets: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    irVersion: IR_VERSION,
    producer: 'lora-studio',
    external: { location: dataPath.slice('onnx/'.length), sink: async () => (dataFile = await create(dataPath)) },
  });
  await model.close();
  const files = [{ path: modelPath, bytes: written.modelBytes }];
  if (dataFile) {
    await (dataFile as OutputFile).close();
    files.push({ path: dataPath, bytes: written.externalBytes });
  }
  return files;
}

/**
 * Exports `src` (base + adapter) with the config and tokenizer files of `folder` (the model's
 * folder: config.json, tokenizer.json, tokenizer_config.json, optionally generation_config.json
 * and chat_template.jinja).
 */
export async function exportOnnx(src: ExportSource, folder: ModelFolder, quant: OnnxQuant, out: OutputFiles): Promise<OnnxExportResult> {
  const { dtype } = ONNX_DTYPES[quant];
  // Everything that can be refused is checked before the first byte is written.
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    if (!(await folder.has(f))) throw new OnnxExportError(`${folder.name}/${f}: missing (the export needs the model's tokenizer and config)`);
  }
  // The tokenizer files through the one reader of the loader (size caps, depth): the same refusals.
  const texts = await readTokenizerTexts(folder);
  const parsed = parseTokenizerTexts(texts, folder.name);
  const config = jsonObject(parseUntrustedJson(texts.modelConfig!, `${folder.name}/config.json`, {}, untrusted(`${folder.name}/config.json`)), `${folder.name}/config.json`);
  const tokConfig = jsonObject(parsed.tokenizerConfig, `${folder.name}/tokenizer_config.json`);
  if (tokConfig.chat_template === undefined && texts.chatTemplate !== undefined) tokConfig.chat_template = texts.chatTemplate;
  const graph = buildDecoderGraph(src, quant);
  const files = await writeOnnxModel(graph, quant, (p) => out.create(p));
  const external = files.length > 1;

  const jsConfig: Record<string, unknown> = { dtype };
  if (external) jsConfig.use_external_data_format = true;
  await writeFile(out, 'config.json', json({ ...config, 'transformers.js_config': jsConfig }), files);
  const gen = (await folder.has('generation_config.json'))
    ? jsonObject(await readUntrustedJson(folder, 'generation_config.json', {}, untrusted(`${folder.name}/generation_config.json`)), `${folder.name}/generation_config.json`)
    : { bos_token_id: src.spec.bosTokenId, eos_token_id: src.spec.eosTokenId, pad_token_id: src.spec.padTokenId };
  await writeFile(out, 'generation_config.json', json(gen), files);
  await writeFile(out, 'tokenizer.json', new TextEncoder().encode(texts.tokenizerJson), files);
  await writeFile(out, 'tokenizer_config.json', json(tokConfig), files);
  return { quant, files, bytes: files.reduce((s, f) => s + f.bytes, 0) };
}
