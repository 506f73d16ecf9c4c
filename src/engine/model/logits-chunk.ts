// The LM head and the loss run over the tokens in chunks of rows, so the logits never exist for
// the whole batch at once: (N, V) f32 is 1 GiB for Llama-3.2-1B at 4 × 512 tokens and would not
// fit one storage binding in a browser (128 MiB by default). A chunk's logits are computed, turned
// into their gradient by the fused softmax-CE, and pushed back through the head before the next.

/** Bytes one chunk of logits may take: WebGPU's default maxStorageBufferBindingSize. */
export const LOGITS_CHUNK_BYTES = 128 * 1024 * 1024;

/**
 * Chunk boundaries are multiples of this many rows, so every row-range view (rows·C·4 bytes of
 * the hidden state, rows·4 bytes of targets and losses) starts on the 256-byte binding alignment.
 */
export const LOGITS_ROW_ALIGN = 64;

/** Rows per chunk for `tokens` rows of a `vocab`-wide head: all of them when they fit the budget. */
export function logitsChunkRows(tokens: number, vocab: number, budgetBytes = LOGITS_CHUNK_BYTES): number {
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`logitsChunkRows: tokens must be a positive integer (got ${tokens})`);
  const fit = Math.floor(budgetBytes / (vocab * 4));
  if (tokens <= fit) return tokens;
  return Math.max(LOGITS_ROW_ALIGN, Math.floor(fit / LOGITS_ROW_ALIGN) * LOGITS_ROW_ALIGN);
}

/** The row ranges [start, start + rows) covering 0 .. tokens in chunks of `chunkRows`. */
export function logitsChunks(tokens: number, chunkRows: number): Array<{ start: number; rows: number }> {
  if (chunkRows < tokens && chunkRows % LOGITS_ROW_ALIGN !== 0) {
    throw new RangeError(`logits chunks of ${chunkRows} rows are not a multiple of ${LOGITS_ROW_ALIGN}`);
  }
  const out: Array<{ start: number; rows: number }> = [];
  for (let start = 0; start < tokens; start += chunkRows) out.push({ start, rows: Math.min(chunkRows, tokens - start) });
  return out;
}
