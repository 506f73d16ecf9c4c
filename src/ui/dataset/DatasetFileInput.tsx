/** A file input that takes a dataset file of a type src/data/parse.ts reads, and hands over the chosen file. */
export function DatasetFileInput({ id, disabled, onFile }: { id: string; disabled?: boolean; onFile: (file: File) => void }) {
  return (
    <input
      id={id}
      type="file"
      accept=".jsonl,.json,.csv,.tsv,.txt,.parquet"
      disabled={disabled}
      onChange={(e) => {
        const f = e.target.files?.[0];
        if (f) onFile(f);
      }}
    />
  );
}
