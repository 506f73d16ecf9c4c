// Incremental SHA-256 with a serializable state.
//
// crypto.subtle.digest only hashes a whole buffer at once; a multi-gigabyte weights file is hashed
// here as it streams, and the state is saved with the import progress so that a download resumed
// after a reload (HTTP Range from where it stopped) still verifies the whole file. Small files are
// hashed with crypto.subtle (sha256Hex).

// Int32Array throughout: values above 2^31 in a Uint32Array become doubles in V8 (3x slower).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** What to save to resume hashing later: JSON-safe. */
export interface Sha256State {
  h: number[];
  /** Bytes hashed so far. */
  length: number;
  /** The pending partial block (< 64 bytes), as hex. */
  pending: string;
}

export class Sha256 {
  private h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  private w = new Int32Array(64);
  private buf = new Uint8Array(64);
  private bufLen = 0;
  private total = 0;

  static from(state: Sha256State): Sha256 {
    const s = new Sha256();
    if (state.h.length !== 8 || state.pending.length % 2 !== 0 || state.pending.length > 126) throw new Error('bad sha256 state');
    s.h.set(state.h.map((x) => x | 0));
    s.total = state.length;
    s.bufLen = state.pending.length / 2;
    for (let i = 0; i < s.bufLen; i++) s.buf[i] = parseInt(state.pending.slice(2 * i, 2 * i + 2), 16);
    if (s.total % 64 !== s.bufLen) throw new Error('bad sha256 state');
    return s;
  }

  get length(): number {
    return this.total;
  }

  state(): Sha256State {
    let pending = '';
    for (let i = 0; i < this.bufLen; i++) pending += this.buf[i].toString(16).padStart(2, '0');
    return { h: Array.from(this.h, (x) => x >>> 0), length: this.total, pending };
  }

  update(data: Uint8Array): this {
    let i = 0;
    const n = data.byteLength;
    this.total += n;
    if (this.bufLen > 0) {
      const take = Math.min(64 - this.bufLen, n);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      i = take;
      if (this.bufLen < 64) return this;
      this.block(this.buf, 0);
      this.bufLen = 0;
    }
    if (i + 64 <= n) {
      // A plain Uint8Array view (not a Buffer or other subclass) keeps block() monomorphic.
      const bytes = data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (; i + 64 <= n; i += 64) this.block(bytes, i);
    }
    if (i < n) {
      this.buf.set(data.subarray(i), 0);
      this.bufLen = n - i;
    }
    return this;
  }

  /** The hex digest. The object must not be updated afterwards. */
  hex(): string {
    const bits = this.total * 8;
    const pad = new Uint8Array(((this.bufLen < 56 ? 56 : 120) - this.bufLen) + 8);
    pad[0] = 0x80;
    const dv = new DataView(pad.buffer);
    dv.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32), false);
    dv.setUint32(pad.length - 4, bits >>> 0, false);
    const total = this.total;
    this.update(pad);
    this.total = total;
    return Array.from(this.h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }

  private block(d: Uint8Array, o: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const j = o + 4 * t;
      w[t] = (d[j] << 24) | (d[j + 1] << 16) | (d[j + 2] << 8) | d[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (((w[t - 16] + s0) | 0) + ((w[t - 7] + s1) | 0)) | 0;
    }
    const h = this.h;
    let a = h[0] | 0;
    let b = h[1] | 0;
    let c = h[2] | 0;
    let e = h[4] | 0;
    let f = h[5] | 0;
    let g = h[6] | 0;
    let hh = h[7] | 0;
    let dd = h[3] | 0;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (((hh + S1) | 0) + ((ch + K[t]) | 0) + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (dd + t1) | 0;
      dd = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + dd) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }
}

/** SHA-256 of a whole buffer with WebCrypto (browsers, workers, Node ≥ 19). */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
