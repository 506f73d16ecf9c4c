// The dataset slice's chosen files, as bytes: a leaf module, so the export slice reads the training
// file's size for the model card without importing the dataset slice.

/** Whether a training file is Parquet (kept as a Blob) rather than text (kept as bytes). */
export const isParquetName = (name: string): boolean => /\.parquet$/i.test(name);

/** A .parquet training file as the worker reads it: by byte ranges from its Blob, never whole. */
export interface DatasetBlob {
  name: string;
  blob: Blob;
}

/**
 * The chosen files' bytes, kept so a model change can tokenize them again. Not state: no renders.
 * Training .parquet files are kept as Blobs (a chosen File, or a Hub split's shards in order),
 * never read whole: the worker reads them as one source by byte ranges.
 */
export const datasetFiles: { train: ArrayBuffer | DatasetBlob[] | null; validation: ArrayBuffer | null } = { train: null, validation: null };

/** The chosen training files' size in bytes (the model card names it; never its content), or null. */
export const datasetFileBytes = (): number | null => {
  const t = datasetFiles.train;
  return t === null ? null : Array.isArray(t) ? t.reduce((n, f) => n + f.blob.size, 0) : t.byteLength;
};
