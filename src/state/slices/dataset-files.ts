// The dataset slice's chosen files, as bytes: a leaf module, so the export slice reads the training
// file's size for the model card without importing the dataset slice.

/**
 * The chosen files' bytes, kept so a model change can tokenize them again. Not state: no renders.
 * A .parquet training file is kept as its File, never read whole: the worker reads it by byte ranges.
 */
export const datasetFiles: { train: ArrayBuffer | Blob | null; validation: ArrayBuffer | null } = { train: null, validation: null };

/** The chosen training file's size in bytes (the model card names it; never its content), or null. */
export const datasetFileBytes = (): number | null => {
  const t = datasetFiles.train;
  return t === null ? null : t instanceof Blob ? t.size : t.byteLength;
};
