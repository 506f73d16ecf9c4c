// The dataset slice's chosen files, as bytes: a leaf module, so the export slice reads the training
// file's size for the model card without importing the dataset slice.

/** The chosen files' bytes, kept so a model change can tokenize them again. Not state: no renders. */
export const datasetFiles: { train: ArrayBuffer | null; validation: ArrayBuffer | null } = { train: null, validation: null };

/** The chosen training file's size in bytes (the model card names it; never its content), or null. */
export const datasetFileBytes = (): number | null => datasetFiles.train?.byteLength ?? null;
