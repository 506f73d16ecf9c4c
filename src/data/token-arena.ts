// Where prepared examples keep their token ids and loss masks: shared blocks (64 Ki tokens, doubling
// to 1 Mi), each example a view into them. A dataset of 100k short examples would otherwise hold 200k small
// ArrayBuffers, each a heap object plus a separately allocated backing store that together cost
// about as much again as the tokens themselves (bench-parquet measures it).
const FIRST_BLOCK = 1 << 16;
const MAX_BLOCK = 1 << 20;

export class TokenArena {
  private ids = new Int32Array(0);
  private mask = new Uint8Array(0);
  private used = 0;

  private nextBlock = FIRST_BLOCK;

  /** Copies an example's ids and mask into the arena; the views returned stay valid for good. */
  keep(inputIds: Int32Array, trainMask: Uint8Array): { inputIds: Int32Array; trainMask: Uint8Array } {
    const n = inputIds.length;
    if (this.used + n > this.ids.length) {
      // A new block; the old one lives on through the views into it.
      const size = Math.max(this.nextBlock, n);
      this.nextBlock = Math.min(MAX_BLOCK, this.nextBlock * 2);
      this.ids = new Int32Array(size);
      this.mask = new Uint8Array(size);
      this.used = 0;
    }
    const ids = this.ids.subarray(this.used, this.used + n);
    const mask = this.mask.subarray(this.used, this.used + n);
    ids.set(inputIds);
    mask.set(trainMask);
    this.used += n;
    return { inputIds: ids, trainMask: mask };
  }
}
