// The datasets the stand-in Hub serves in tests and e2e specs: real Parquet files written by
// hyparquet-writer (a different implementation than the reader; a split of two shards), jsonl
// repository files, a gated one, a private one, one with only README.md.
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { StandInDataset } from './stand-in-datasets-testing';

export const DATASET_TOKEN = 'hf_datasetTOKEN1234567890';

/** Question/answer rows (columns that name no known format: the page proposes prompt/completion). */
export const QA_ROWS = Array.from({ length: 24 }, (_, i) => ({ question: `What is ${i} plus ${i}?`, answer: `${2 * i}` }));
/** Alpaca rows. */
export const ALPACA_ROWS = Array.from({ length: 12 }, (_, i) => ({ instruction: `Say the number ${i}.`, input: '', output: `${i}` }));

/** ~100 KB of completion rows (a download long enough to be cut and resumed). */
export const BIG_ROWS = Array.from({ length: 1500 }, (_, i) => ({ prompt: `Count to ${i}:`, completion: ` ${i} and on to ${i + 1}` }));

export function parquetOf(rows: readonly Record<string, string>[]): Uint8Array {
  const names = Object.keys(rows[0]);
  return new Uint8Array(parquetWriteBuffer({ columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]), type: 'STRING' as const })) }));
}

export const jsonlOf = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** The stand-in's datasets, keyed by id. */
export function standInDatasets(): Record<string, StandInDataset> {
  return {
    'studio/qa-pairs': {
      downloads: 900,
      sizeCategory: 'n<1K',
      conversion: {
        // default/train is two shards (12 and 8 rows), as real Hub splits often are several files.
        default: { train: [parquetOf(QA_ROWS.slice(0, 12)), parquetOf(QA_ROWS.slice(12, 20))], test: [parquetOf(QA_ROWS.slice(20))] },
        tiny: { train: [parquetOf(QA_ROWS.slice(0, 4))] },
      },
      files: new Map([['README.md', '# qa'], ['qa.jsonl', jsonlOf(QA_ROWS)]]),
    },
    'studio/alpaca-jsonl': {
      downloads: 500,
      sizeCategory: 'n<1K',
      files: new Map([
        ['README.md', '# alpaca'],
        ['data/train-00000-of-00002.jsonl', jsonlOf(ALPACA_ROWS.slice(0, 6))],
        ['data/train-00001-of-00002.jsonl', jsonlOf(ALPACA_ROWS.slice(6, 10))],
        ['data/test-00000-of-00001.jsonl', jsonlOf(ALPACA_ROWS.slice(10))],
      ]),
    },
    'studio/gated-qa': {
      downloads: 300,
      gated: 'manual',
      token: DATASET_TOKEN,
      conversion: { default: { train: [parquetOf(QA_ROWS.slice(0, 8))] } },
    },
    'studio/private-qa': { downloads: 10, private: true, token: DATASET_TOKEN, files: new Map([['train.jsonl', jsonlOf(QA_ROWS)]]) },
    'studio/big-jsonl': { downloads: 2, files: new Map([['train.jsonl', jsonlOf(BIG_ROWS)]]) },
    'studio/readme-only': { downloads: 1, files: new Map([['README.md', '# nothing']]) },
  };
}
