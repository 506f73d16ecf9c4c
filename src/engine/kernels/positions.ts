// Token positions within their example (Batch.positions), as RoPE and attention read them: i32
// (B*T), restarting at 0 at each example's first token. A row that is one example counts 0..T-1.

/** Fills out[0 .. B*T) with 0..T-1 in each of B rows (one example per row); allocates nothing. */
export function fillRowPositions(out: Int32Array, B: number, T: number): Int32Array {
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = t;
  return out;
}

/** Positions 0..T-1 in each of B rows, in a new array. */
export function rowPositions(B: number, T: number): Int32Array {
  return fillRowPositions(new Int32Array(B * T), B, T);
}

/**
 * Where positions break the contract, as a message naming the token, or null: each row starts
 * at 0 and every next token either restarts at 0 or counts up by 1 (so each token's example
 * range [t - positions[t], t] lies inside its row, and example starts never decrease along it).
 */
export function positionsProblem(positions: ArrayLike<number>, B: number, T: number): string | null {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const p = positions[b * T + t];
      const ok = t === 0 ? p === 0 : p === 0 || p === positions[b * T + t - 1] + 1;
      if (!ok) return `positions[${b * T + t}] (row ${b}, token ${t}) is ${p}: it must be 0 or the previous position + 1${t === 0 ? ' (0 at a row start)' : ''}`;
    }
  }
  return null;
}

/**
 * Positions of rows of T tokens packed with examples of the given lengths, in order (rows[b] lists
 * row b's); the tokens after the last example of a row count on from 0 as one more (padding) example.
 */
export function segmentPositions(T: number, rows: number[][]): Int32Array {
  const out = new Int32Array(rows.length * T);
  rows.forEach((lengths, b) => {
    let t = 0;
    for (const len of [...lengths, T - lengths.reduce((a, n) => a + n, 0)]) {
      if (len < 0 || t + len > T) throw new RangeError(`row ${b}: examples of ${lengths.join('+')} tokens exceed ${T}`);
      for (let i = 0; i < len; i++) out[b * T + t++] = i;
    }
  });
  return out;
}
