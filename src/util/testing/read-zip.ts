// A strict, independent ZIP reader for tests (unit tests of src/util/zip.ts and the export e2e
// spec). It shares no code with the writer: its own CRC-32 (bit by bit, no table), its own field
// offsets from APPNOTE.TXT §4.3, and it cross-checks every central directory entry against its
// local header (or, for a streamed entry with general-purpose flag 3 set, against the data
// descriptor after its data, whose signature, CRC and sizes must match). Stored (method 0) entries
// only: anything else is reported as an error.

export interface ReadEntry {
  name: string;
  data: Uint8Array;
  crc: number;
  flags: number;
  method: number;
  versionMadeBy: number;
  versionNeeded: number;
  externalAttrs: number;
  dosTime: number;
  dosDate: number;
  localHeaderOffset: number;
}

export interface ReadZip {
  entries: ReadEntry[];
  centralDirectoryOffset: number;
  centralDirectorySize: number;
}

/** CRC-32 computed one bit at a time (no lookup table), reflected polynomial 0xEDB88320. */
export function crc32Bitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i];
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Parses a whole archive; throws with a reason at the first thing that is not as APPNOTE says. */
export function readZip(buf: Uint8Array): ReadZip {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (o: number) => v.getUint16(o, true);
  const u32 = (o: number) => v.getUint32(o, true);
  const fail = (why: string): never => {
    throw new Error(`readZip: ${why}`);
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  // End of central directory: 22 bytes + a comment of up to 65535 bytes, found from the end.
  let eocd = -1;
  for (let o = buf.length - 22; o >= Math.max(0, buf.length - 22 - 0xffff); o--) {
    if (u32(o) === 0x06054b50 && o + 22 + u16(o + 20) === buf.length) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory record');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk archive');
  const count = u16(eocd + 8);
  if (u16(eocd + 10) !== count) fail('entries on this disk differ from the total');
  const cdSize = u32(eocd + 12);
  const cdOffset = u32(eocd + 16);
  if (cdOffset + cdSize !== eocd) fail(`central directory [${cdOffset}, +${cdSize}) does not end at the end record (${eocd})`);

  const entries: ReadEntry[] = [];
  let p = cdOffset;
  let expectLocal = 0;
  for (let i = 0; i < count; i++) {
    if (u32(p) !== 0x02014b50) fail(`central entry ${i}: bad signature at ${p}`);
    const versionMadeBy = u16(p + 4);
    const versionNeeded = u16(p + 6);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const dosTime = u16(p + 12);
    const dosDate = u16(p + 14);
    const crc = u32(p + 16);
    const csize = u32(p + 20);
    const usize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    const externalAttrs = u32(p + 38);
    const lho = u32(p + 42);
    const nameBytes = buf.subarray(p + 46, p + 46 + nameLen);
    const name = flags & 0x800 ? utf8.decode(nameBytes) : String.fromCharCode(...nameBytes);
    p += 46 + nameLen + extraLen + commentLen;

    if (method !== 0) fail(`${name}: method ${method}, expected 0 (stored)`);
    if (flags & 0x1) fail(`${name}: encrypted`);
    const streamed = (flags & 0x8) !== 0; // sizes and CRC in a data descriptor after the data
    if (csize !== usize) fail(`${name}: stored entry with compressed size ${csize} != size ${usize}`);
    if (lho !== expectLocal) fail(`${name}: local header at ${lho}, expected ${expectLocal} (entries must be contiguous)`);

    // The local header must repeat the central directory's fields.
    if (u32(lho) !== 0x04034b50) fail(`${name}: bad local header signature at ${lho}`);
    if (u16(lho + 4) !== versionNeeded) fail(`${name}: local version needed differs`);
    if (u16(lho + 6) !== flags) fail(`${name}: local flags differ`);
    if (u16(lho + 8) !== method) fail(`${name}: local method differs`);
    if (u16(lho + 10) !== dosTime || u16(lho + 12) !== dosDate) fail(`${name}: local time/date differ`);
    if (!streamed) {
      if (u32(lho + 14) !== crc) fail(`${name}: local CRC differs`);
      if (u32(lho + 18) !== csize || u32(lho + 22) !== usize) fail(`${name}: local sizes differ`);
    } else if (u32(lho + 14) !== 0 || u32(lho + 18) !== 0 || u32(lho + 22) !== 0) {
      fail(`${name}: streamed entry with a CRC or sizes in its local header`);
    }
    const lNameLen = u16(lho + 26);
    const lExtraLen = u16(lho + 28);
    const lName = buf.subarray(lho + 30, lho + 30 + lNameLen);
    if (lNameLen !== nameLen || lName.some((b, k) => b !== nameBytes[k])) fail(`${name}: local name differs`);
    const start = lho + 30 + lNameLen + lExtraLen;
    if (start + csize > cdOffset) fail(`${name}: data runs into the central directory`);
    const data = buf.subarray(start, start + csize);
    const actual = crc32Bitwise(data);
    if (actual !== crc) fail(`${name}: CRC ${actual.toString(16)} != stored ${crc.toString(16)}`);
    expectLocal = start + csize;
    if (streamed) {
      const d = expectLocal;
      if (d + 16 > cdOffset || u32(d) !== 0x08074b50) fail(`${name}: no data descriptor after its data (at ${d})`);
      if (u32(d + 4) !== crc || u32(d + 8) !== csize || u32(d + 12) !== usize) fail(`${name}: data descriptor differs from the central directory`);
      expectLocal = d + 16;
    }
    entries.push({ name, data, crc, flags, method, versionMadeBy, versionNeeded, externalAttrs, dosTime, dosDate, localHeaderOffset: lho });
  }
  if (p !== eocd) fail(`central directory has ${eocd - p} unexplained bytes`);
  if (expectLocal !== cdOffset) fail(`${cdOffset - expectLocal} unexplained bytes before the central directory`);
  return { entries, centralDirectoryOffset: cdOffset, centralDirectorySize: cdSize };
}
