// Validation of benchmark options given as text (command-line flags, form fields). The same rules
// and messages serve the CLI (`--batch must be …`) and the bench page (`batch must be …`): the
// caller says how a field is named to the user.
import type { QuantKind } from '../../quant/format';
import { runLimitError } from '../../io/untrusted/limits';

/** An invalid option: `field` is its key (batch, seq, …), the message names it as the user sees it. */
export class BenchFieldError extends Error {
  override name = 'BenchFieldError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** How a field is named in messages: `--batch` on the command line, `batch` on the page. */
export type FieldLabel = (field: string) => string;

export const cliLabel: FieldLabel = (f) => `--${f}`;
export const plainLabel: FieldLabel = (f) => f;

/** Raw option values by field; undefined = not given (the default applies). */
export type RawFields = Record<string, string | undefined>;

/** An integer ≥ min (1 unless told): the default when not given, else a clear error naming the field. */
export function intField(raw: RawFields, field: string, dflt: number, label: FieldLabel, min = 1): number {
  const v = raw[field];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`;
    throw new BenchFieldError(field, `${label(field)} must be ${what} (got "${v}")`);
  }
  const over = runLimitError(field, n);
  if (over) throw new BenchFieldError(field, `${label(field)} ${over}`);
  return n;
}

export type BenchQuant = 'none' | QuantKind;

export const QUANTS: readonly BenchQuant[] = ['none', 'int8', 'int4'];

export function quantField(raw: RawFields, field: string, label: FieldLabel): BenchQuant {
  const q = raw[field] ?? 'none';
  if (!(QUANTS as readonly string[]).includes(q)) throw new BenchFieldError(field, `${label(field)} ${q} is not one of ${QUANTS.join(', ')}`);
  return q as BenchQuant;
}

/** Fixed decimals, for times. */
export const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;
/** Significant digits, for rates: fixed decimals turn a tiny, slow (shared CPU) run into 0. */
export const significant = (v: number, digits: number): number => Number(v.toPrecision(digits));
