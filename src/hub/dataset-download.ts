// One file of a resolved dataset split, downloaded with the models' fetch (HubClient: the token
// rule, Range, size and SHA-256 checks), into whatever keeps it: a cache file in Node
// (src/cli/hub-dataset.ts), memory then IndexedDB in the page (dataset-store.ts).
import { HubIntegrityError, type HubClient, type HubFileInfo, type StreamCheckpoint } from './download';
import { HubDatasetError, type DatasetFile, type ResolvedSplit } from './datasets';
import type { Sha256State } from './sha256';

/** Size and SHA-256 the Hub announces for a split's file (HEAD). Throws HubDatasetError when it is gone, HubIntegrityError without a size. */
export async function statSplitFile(client: HubClient, split: ResolvedSplit, file: DatasetFile, signal?: AbortSignal): Promise<HubFileInfo> {
  const info = await client.stat(split.id, split.fileRevision, file.path, signal, file.url);
  if (!info) throw new HubDatasetError('not-found', split.id, `Dataset ${split.id}: ${file.path} is listed but the Hub does not serve it`);
  if (info.size < 0) throw new HubIntegrityError(`${file.path} of ${split.id}: the Hub announces no size`);
  return info;
}

export interface FileSink {
  /** Bytes already kept (a resumed download), and the SHA-256 state over them when known. */
  offset: number;
  hash: Sha256State | null;
  write(bytes: Uint8Array, at: number): Promise<void>;
}

/**
 * The bytes of `info` from `sink.offset` on, piece by piece into the sink (a dropped connection
 * loses at most one piece), then the SHA-256 over the whole file when the Hub announces one.
 * Throws HubClient's errors (network, integrity, auth, abort).
 */
export async function downloadSplitFile(
  client: HubClient,
  split: ResolvedSplit,
  info: HubFileInfo,
  sink: FileSink,
  o: { signal?: AbortSignal; onBytes?: (n: number) => void; pieceBytes?: number; onPiece?: (c: StreamCheckpoint) => Promise<void> } = {},
): Promise<void> {
  const piece = o.pieceBytes ?? 1 << 20;
  const reader = client.open(split.id, split.fileRevision, info, {
    signal: o.signal,
    onBytes: o.onBytes,
    resume: sink.offset > 0 ? { offset: sink.offset, hash: sink.hash } : null,
  });
  try {
    for (let at = sink.offset; at < info.size; at += piece) {
      await sink.write(await reader.read(at, Math.min(piece, info.size - at)), at);
      // Where the stream stands after the piece (offset, SHA-256 state): what a resume starts from.
      await o.onPiece?.(reader.checkpoint());
    }
    await reader.finish();
  } finally {
    await reader.close();
  }
}

/**
 * A split's file read by byte ranges over the Hub, for a look before downloading (a Parquet file's
 * footer and first row group: the row count and first rows). Each slice is one Range request
 * through HubClient (the token rule); nothing is kept.
 */
export function remoteSplitFile(client: HubClient, split: ResolvedSplit, file: DatasetFile, info: HubFileInfo, signal?: AbortSignal): { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> } {
  return {
    byteLength: info.size,
    async slice(start, end = info.size) {
      if (end <= start) return new ArrayBuffer(0);
      const res = (await client.request(split.id, split.fileRevision, file.path, { range: [start, end - 1], url: file.url, signal }))!;
      const buf = await res.arrayBuffer();
      // A server that ignores Range sends the whole file.
      const out = res.status === 200 ? buf.slice(start, end) : buf;
      if (out.byteLength !== end - start) throw new HubIntegrityError(`${file.path} of ${split.id}: asked for ${end - start} bytes at ${start}, received ${out.byteLength}`);
      return out;
    },
  };
}
