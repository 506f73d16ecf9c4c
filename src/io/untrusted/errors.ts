// The one error of the untrusted-input layer: a file (or archive entry) refused before it could
// cost time or memory. Readers with their own error class pass a `fail` instead (see json.ts).

/** A refused file: names the file and, where one is to blame, the field. */
export class UntrustedFileError extends Error {
  override name = 'UntrustedFileError';
  constructor(
    readonly file: string,
    readonly field: string | null,
    detail: string,
  ) {
    super(field ? `${file}: ${field} ${detail}` : `${file} ${detail}`);
  }
}

/**
 * Throws a reader's typed error; `field` is null when the whole file is to blame. `detail` reads
 * after the field or file name: "is not valid JSON (…)", "inflates to 5 bytes …".
 */
export type Fail = (field: string | null, detail: string) => never;

export function failWith(file: string): Fail {
  return (field, detail) => {
    throw new UntrustedFileError(file, field, detail);
  };
}
