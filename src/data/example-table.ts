// The prepared examples, kept as columns: token ids and loss masks in shared blocks (64 Ki tokens,
// doubling to 1 Mi), and per example its block, start, length, line and truncation flag in a few
// typed arrays. No object per example: 165,000 examples as objects with two typed-array views each
// held ~45 MB of V8 heap, and V8 lets its heap grow to a multiple of what is live before collecting,
// so those objects tripled the peak RSS of reading a 200 MB Parquet file (bench-parquet measures it).
// An example is made into an object (views into the blocks) only when someone asks for it.
import type { EncodedExample } from './encode';

const FIRST_BLOCK = 1 << 16;
const MAX_BLOCK = 1 << 20;

export interface PreparedExample extends EncodedExample {
  /** 1-based line of the record in the file (a Parquet row: row + 1). */
  line: number;
  truncated: boolean;
}

/** A Uint32 column that grows by doubling. */
class Column {
  data = new Uint32Array(1024);
  push(i: number, v: number): void {
    if (i === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[i] = v;
  }
}

export class ExampleTable implements Iterable<PreparedExample> {
  private readonly idBlocks: Int32Array[] = [];
  private readonly maskBlocks: Uint8Array[] = [];
  private used = 0;
  private nextBlock = FIRST_BLOCK;
  private n = 0;
  private readonly block = new Column();
  private readonly start = new Column();
  private readonly size = new Column();
  private readonly lines = new Column();
  // The top bit of `size` holds `truncated` instead of a fifth column (push refuses 2^31 tokens).
  private static readonly TRUNCATED = 0x8000_0000;

  get length(): number {
    return this.n;
  }

  /** Copies an example's ids and mask into the table (the caller's arrays stay the caller's). */
  push(line: number, inputIds: Int32Array, trainMask: Uint8Array, truncated: boolean): void {
    const len = inputIds.length;
    if (trainMask.length !== len) throw new Error(`example at line ${line}: ${len} ids but ${trainMask.length} mask entries`);
    if (len >= ExampleTable.TRUNCATED) throw new Error(`example at line ${line}: ${len} tokens is too long`);
    let ids = this.idBlocks[this.idBlocks.length - 1];
    if (!ids || this.used + len > ids.length) {
      // A new block; the full one keeps its examples.
      const size = Math.max(this.nextBlock, len);
      this.nextBlock = Math.min(MAX_BLOCK, this.nextBlock * 2);
      ids = new Int32Array(size);
      this.idBlocks.push(ids);
      this.maskBlocks.push(new Uint8Array(size));
      this.used = 0;
    }
    const b = this.idBlocks.length - 1;
    ids.set(inputIds, this.used);
    this.maskBlocks[b].set(trainMask, this.used);
    this.block.push(this.n, b);
    this.start.push(this.n, this.used);
    this.size.push(this.n, truncated ? len | ExampleTable.TRUNCATED : len);
    this.lines.push(this.n, line);
    this.used += len;
    this.n++;
  }

  private check(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.n)) throw new RangeError(`example ${i} of ${this.n}`);
  }

  /** Tokens of example i (no allocation). */
  tokenCount(i: number): number {
    this.check(i);
    return (this.size.data[i] & ~ExampleTable.TRUNCATED) >>> 0;
  }

  line(i: number): number {
    this.check(i);
    return this.lines.data[i];
  }

  /** Example i's token ids: a view into the table's block (do not write to it). */
  ids(i: number): Int32Array {
    const s = this.start.data[i];
    return this.idBlocks[this.block.data[i]].subarray(s, s + this.tokenCount(i));
  }

  /** Example i's loss mask: a view, as `ids`. */
  mask(i: number): Uint8Array {
    const s = this.start.data[i];
    return this.maskBlocks[this.block.data[i]].subarray(s, s + this.tokenCount(i));
  }

  /** Example i as an object whose ids and mask are views into the table. */
  example(i: number): PreparedExample {
    return { line: this.line(i), inputIds: this.ids(i), trainMask: this.mask(i), truncated: (this.size.data[i] & ExampleTable.TRUNCATED) !== 0 };
  }

  *[Symbol.iterator](): Iterator<PreparedExample> {
    for (let i = 0; i < this.n; i++) yield this.example(i);
  }

  /** The first `count` examples (fewer when the table is shorter). */
  first(count: number): PreparedExample[] {
    return Array.from({ length: Math.min(count, this.n) }, (_, i) => this.example(i));
  }

  /** Bytes the table holds: the token blocks (not only their used part) and the columns. */
  get bytes(): number {
    let b = 0;
    for (const ids of this.idBlocks) b += ids.byteLength + ids.length;
    for (const c of [this.block, this.start, this.size, this.lines]) b += c.data.byteLength;
    return b;
  }
}
