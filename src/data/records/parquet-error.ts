// The one error a Parquet file is refused with: a DatasetError that names the file, and where
// known the row group and the column.
import { DatasetError } from '../errors';

export interface ParquetPlace {
  file: string;
  /** 0-based row group. */
  rowGroup?: number;
  column?: string;
  /** 0-based row in the file (a cell that cannot become JSON). */
  row?: number;
}

export class ParquetError extends DatasetError {
  readonly file: string;
  readonly rowGroup?: number;
  readonly column?: string;
  readonly row?: number;
  constructor(place: ParquetPlace, reason: string) {
    super(`${parquetPlace(place)}: ${reason}`);
    this.name = 'ParquetError';
    this.file = place.file;
    if (place.rowGroup !== undefined) this.rowGroup = place.rowGroup;
    if (place.column !== undefined) this.column = place.column;
    if (place.row !== undefined) this.row = place.row;
  }
}

/** `data.parquet, row group 2, column 'messages'` (the parts known). */
export function parquetPlace(p: ParquetPlace): string {
  return [
    p.file,
    p.row !== undefined ? `row ${p.row}` : undefined,
    p.rowGroup !== undefined ? `row group ${p.rowGroup}` : undefined,
    p.column !== undefined ? `column '${p.column}'` : undefined,
  ]
    .filter((s) => s !== undefined)
    .join(', ');
}
