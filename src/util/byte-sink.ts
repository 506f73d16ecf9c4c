// The one byte-sink interface of every exporter (ONNX, GGUF, the adapter, the recipe). Where the
// bytes go is the caller's: files on disk written atomically (src/export/atomic-sink.ts, Node),
// entries of one streamed .zip (src/util/zip.ts, the page and the worker), or Blob parts (BlobSink).

/** Where bytes go, in order. A chunk may be kept by the sink: the caller must not reuse its buffer. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

/** One output file: its bytes, then close() (after which nothing more is written to it). */
export interface OutputFile extends ByteSink {
  close(): Promise<void>;
}

/** Where an export's files go; paths are '/'-separated and relative. */
export interface OutputFiles {
  create(path: string): Promise<OutputFile>;
}

/**
 * Bytes collected as Blob parts. Every `foldBytes` (64 MiB) the parts gathered so far become one
 * Blob, so a multi-GB export is never one list of ArrayBuffers on the JavaScript heap: the browser
 * keeps Blob data in its own store (on disk past its memory budget).
 */
export class BlobSink implements OutputFile {
  private blobs: Blob[] = [];
  private parts: Uint8Array<ArrayBuffer>[] = [];
  private pending = 0;
  size = 0;

  constructor(private readonly foldBytes = 64 << 20) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(bytes as Uint8Array<ArrayBuffer>);
    this.pending += bytes.byteLength;
    this.size += bytes.byteLength;
    if (this.pending >= this.foldBytes) this.fold();
  }

  async close(): Promise<void> {
    this.fold();
  }

  /** All the bytes written, as one Blob (of Blobs: nothing is copied again). */
  blob(type = ''): Blob {
    this.fold();
    return new Blob(this.blobs, { type });
  }

  private fold(): void {
    if (this.parts.length === 0) return;
    this.blobs.push(new Blob(this.parts));
    this.parts = [];
    this.pending = 0;
  }
}
