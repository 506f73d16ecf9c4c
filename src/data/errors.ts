// Errors and per-line problems of the dataset pipeline.

/** One malformed record: its 1-based line number in the file and why it was rejected. */
export interface DataIssue {
  line: number;
  reason: string;
}

export function formatIssue(issue: DataIssue): string {
  return `line ${issue.line}: ${issue.reason}`;
}

/**
 * The dataset was refused. `issues` lists EVERY bad line (empty when the whole file is the problem:
 * empty, binary, not UTF-8, unsupported type). `message` is a human summary; print
 * `issues.map(formatIssue)` to show the full list.
 */
export class DatasetError extends Error {
  readonly issues: DataIssue[];
  constructor(message: string, issues: DataIssue[] = []) {
    super(message);
    this.name = 'DatasetError';
    this.issues = issues;
  }
}

/** A record-level problem raised while converting or tokenizing one record. */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}
