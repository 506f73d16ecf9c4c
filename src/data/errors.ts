// Errors and per-line problems of the dataset pipeline.

/**
 * One malformed record: the 1-based line where it starts and why it was rejected; a JSON array's
 * records also carry their 0-based index in the array (a whole array may sit on one line); a
 * Parquet row its 0-based row and row group (line = row + 1); `file` when the source has several files.
 */
export interface DataIssue {
  line: number;
  index?: number;
  row?: number;
  rowGroup?: number;
  file?: string;
  reason: string;
}

/** A record's place, as DataIssue holds it. */
export type IssuePlace = Omit<DataIssue, 'reason'>;

/** The place fields of a record (for a DataIssue), leaving out those it does not have. */
export function issuePlace(rec: IssuePlace): IssuePlace {
  const out: IssuePlace = { line: rec.line };
  if (rec.index !== undefined) out.index = rec.index;
  if (rec.row !== undefined) out.row = rec.row;
  if (rec.rowGroup !== undefined) out.rowGroup = rec.rowGroup;
  if (rec.file !== undefined) out.file = rec.file;
  return out;
}

/** Bad records kept for the message; the rest are counted ("and N more"), not listed. */
export const MAX_LISTED_ISSUES = 100;

/**
 * Where a record is: `line 7`, `index 12 (line 1)` in a JSON array, `row 40 (row group 0)` in a
 * Parquet file; prefixed by `name: ` when the record names its file.
 */
export function recordPlace(issue: IssuePlace): string {
  const at =
    issue.row !== undefined
      ? `row ${issue.row}${issue.rowGroup !== undefined ? ` (row group ${issue.rowGroup})` : ''}`
      : issue.index === undefined
        ? `line ${issue.line}`
        : `index ${issue.index} (line ${issue.line})`;
  return issue.file !== undefined ? `${issue.file}: ${at}` : at;
}

export function formatIssue(issue: DataIssue): string {
  return `${recordPlace(issue)}: ${issue.reason}`;
}

/** The listed issues, one per line, then "and N more" when `total` (all bad records) is larger. */
export function formatIssues(issues: readonly DataIssue[], total = issues.length, shown = MAX_LISTED_ISSUES): string[] {
  const lines = issues.slice(0, shown).map(formatIssue);
  const more = total - lines.length;
  if (more > 0) lines.push(`and ${more} more`);
  return lines;
}

/**
 * The dataset was refused. `issues` lists the first MAX_LISTED_ISSUES bad records (empty when the
 * whole file is the problem: empty, binary, not UTF-8, unsupported type) and `issueCount` counts
 * them all. `message` is a human summary; print `formatIssues(issues, issueCount)` for the list.
 */
export class DatasetError extends Error {
  readonly issues: DataIssue[];
  readonly issueCount: number;
  constructor(message: string, issues: DataIssue[] = [], issueCount = issues.length) {
    super(message);
    this.name = 'DatasetError';
    this.issues = issues;
    this.issueCount = issueCount;
  }
}

/** A record-level problem raised while converting or tokenizing one record. */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}
