/** Input the GGUF exporter refuses (an architecture, setting, tensor or tokenizer GGUF cannot say), named. */
export class GgufExportError extends Error {
  override name = 'GgufExportError';
}
