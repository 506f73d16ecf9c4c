// The dataset pipeline's public API (browser worker and Node). See README.md in this folder.
export { DatasetError, formatIssue, type DataIssue } from './errors';
export { iterateChunks, readLines, type ByteSource, type TextLine } from './source';
export { fileTypeFromName, parseRecords, type FileType, type RawRecord, type RecordPlace, type TextFileType, type TxtMode } from './parse';
export {
  isRecordSource,
  openRecordSource,
  toRecordSource,
  type DatasetInput,
  type ReadRecordsOptions,
  type RecordFile,
  type RecordProgress,
  type RecordSource,
  type RecordSourceOptions,
} from './records/record-source';
export { blobRandomAccess, bytesRandomAccess, type RandomAccess } from './records/random-access';
export { ParquetError, type ParquetPlace } from './records/parquet-error';
export type { ColumnInfo } from './records/parquet-values';
export {
  alpacaPrompt,
  DATA_FORMATS,
  detectFormat,
  parseColumnMapping,
  toExample,
  validateStructure,
  type ChatMessage,
  type ColumnMapping,
  type DataFormat,
  type Example,
  type Role,
} from './formats';
export { assistantSpansByPrefix, CHATML_TEMPLATE, ChatTemplate, type CharSpan } from './template';
export { ModelTokenizer, tokenizerAddsBos, type OffsetEncoding, type TokenizerFiles } from './tokenizer';
export {
  countTrained,
  encodeExample,
  truncateExample,
  type EncodedExample,
  type EncodeOptions,
  type TrainOn,
} from './encode';
export { packBatch, packRows, padBatch, seededRandom, shuffled, splitValidation, type TokenSequence } from './sequences';
export { lengthHistogram, tokenView, type Histogram, type TokenViewItem } from './stats';
export {
  cutExample,
  prepareDataset,
  protectsTurns,
  type DatasetStats,
  type PreparedDataset,
  type PrepareOptions,
  type PrepareProgress,
} from './pipeline';
export { ExampleTable, type PreparedExample } from './example-table';
