import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blobSource } from './blob-files';
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './dtype';
import { fileSource } from './node-files';
import {
  bytesSource,
  parseSafetensors,
  readSafetensorsHeader,
  readTensorF32,
  SafetensorsError,
  writeSafetensors,
} from './safetensors';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/reference/', import.meta.url));

/** A safetensors file from raw header text (not padded) and `dataLen` data bytes. */
function file(header: string, dataLen: number, lenOverride?: number | bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.byteLength + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(lenOverride ?? h.byteLength), true);
  out.set(h, 8);
  return out;
}

const t = (dtype: string, shape: unknown, offs: unknown): string => JSON.stringify({ dtype, shape, data_offsets: offs });

function expectError(bytes: Uint8Array, pattern: RegExp | string): void {
  expect(() => parseSafetensors('bad.safetensors', bytes)).toThrow(SafetensorsError);
  expect(() => parseSafetensors('bad.safetensors', bytes)).toThrow(pattern);
}

describe('safetensors reader: hostile files', () => {
  it('refuses a file shorter than 8 bytes', () => expectError(new Uint8Array(5), /too small/));

  it('refuses a huge header length before allocating', async () => {
    const bytes = file('{}', 0, 2n ** 60n);
    expectError(bytes, /bad\.safetensors: header length \d+ exceeds the maximum of 100000000 bytes/);
    expectError(file('{}', 0, 100_000_001), /exceeds the maximum/);
    // through a source too: only the first 8 bytes are read
    const reads: number[] = [];
    const src = bytesSource('big.safetensors', bytes);
    const spy = { ...src, read: (o: number, l: number) => (reads.push(l), src.read(o, l)) };
    await expect(readSafetensorsHeader(spy)).rejects.toThrow(/exceeds the maximum/);
    expect(reads).toEqual([8]);
  });

  it('refuses a header longer than the file', () => {
    expectError(file('{}', 0, 1000), /header length 1000 runs past the end of the file \(10 bytes\)/);
  });

  it('refuses invalid UTF-8, invalid JSON and non-objects', () => {
    const bad = file('{"a"}', 0);
    bad[9] = 0xff;
    expectError(bad, /header is not valid UTF-8/);
    expectError(file('{"x": {', 0), /header is not valid JSON/);
    expectError(file('[1, 2]', 0), /header is not a JSON object/);
    expectError(file('null', 0), /header is not a JSON object/);
  });

  it('refuses an unknown dtype', () => {
    expectError(file(`{"x":${t('F128', [1], [0, 16])}}`, 16), /tensor "x": unknown dtype "F128"/);
  });

  it('refuses negative, fractional and non-numeric dimensions', () => {
    expectError(file(`{"x":${t('F32', [-1, 2], [0, 0])}}`, 0), /tensor "x": shape \[-1,2\] has dimension -1/);
    expectError(file(`{"x":${t('F32', [1.5], [0, 6])}}`, 6), /tensor "x": shape \[1.5\] has dimension 1.5/);
    expectError(file(`{"x":${t('F32', ['2'], [0, 8])}}`, 8), /dimensions must be non-negative integers/);
    expectError(file(`{"x":${t('F32', 3, [0, 12])}}`, 12), /shape must be a list/);
  });

  it('refuses a shape whose byte size overflows', () => {
    expectError(file(`{"x":${t('F32', [2 ** 40, 2 ** 40], [0, 0])}}`, 0), /tensor "x": shape .* overflows/);
  });

  it('refuses a size mismatch, naming the tensor, offsets, shape and dtype', () => {
    expectError(
      file(`{"x.weight":${t('F32', [2, 2], [0, 12])}}`, 12),
      'bad.safetensors: tensor "x.weight": data_offsets [0, 12] hold 12 bytes but shape [2, 2] F32 needs 16',
    );
  });

  it('refuses malformed data_offsets', () => {
    expectError(file(`{"x":${t('F32', [1], [0])}}`, 4), /data_offsets must be \[begin, end\]/);
    expectError(file(`{"x":${t('F32', [1], [-4, 0])}}`, 4), /data_offsets must be \[begin, end\]/);
    expectError(file(`{"x":{"dtype":"F32","shape":[1]}}`, 4), /tensor "x": missing data_offsets/);
  });

  it('refuses offsets out of order (end before begin)', () => {
    expectError(file(`{"x":${t('F32', [1], [8, 4])}}`, 8), /tensor "x": data_offsets \[8, 4\] are out of order/);
  });

  it('refuses a gap between tensors and a first tensor not at 0', () => {
    expectError(file(`{"a":${t('F32', [1], [0, 4])},"b":${t('F32', [1], [8, 12])}}`, 12), /tensor "b": data_offsets \[8, 12\] leave a gap: the previous tensor ends at 4/);
    expectError(file(`{"a":${t('F32', [1], [4, 8])}}`, 8), /tensor "a": .* leave a gap/);
  });

  it('refuses overlapping tensors', () => {
    expectError(file(`{"a":${t('F32', [2], [0, 8])},"b":${t('F32', [2], [4, 12])}}`, 12), /tensor "b": data_offsets \[4, 12\] overlap the previous tensor, which ends at 8/);
  });

  it('refuses trailing bytes and truncated data', () => {
    expectError(file(`{"a":${t('F32', [1], [0, 4])}}`, 6), /cover 4 bytes of data but the file holds 6 \(2 trailing bytes\)/);
    expectError(file(`{"a":${t('F32', [2], [0, 8])}}`, 4), /need 8 bytes of data but the file holds only 4/);
  });

  it('refuses duplicate keys (which JSON.parse would silently merge)', () => {
    expectError(file(`{"a":${t('F32', [1], [0, 4])},"a":${t('F32', [1], [0, 4])}}`, 4), /duplicate key "a"/);
    // an escaped spelling of the same key is the same key
    expectError(file(`{"ab":${t('F32', [1], [0, 4])},"a\\u0062":${t('F32', [1], [0, 4])}}`, 4), /duplicate key "ab"/);
    expectError(file(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, 4), /duplicate key "dtype" in "a"/);
    expectError(file(`{"__metadata__":{"k":"1","k":"2"}}`, 0), /duplicate key "k" in "__metadata__"/);
  });

  it('refuses a bad __metadata__', () => {
    expectError(file(`{"__metadata__":{"k":1}}`, 0), /__metadata__ "k" must be a string/);
    expectError(file(`{"__metadata__":["x"]}`, 0), /__metadata__ must be an object/);
  });

  it('refuses reads outside a source', async () => {
    await expect(bytesSource('f', new Uint8Array(4)).read(2, 4)).rejects.toThrow(/outside the file/);
  });
});

describe('safetensors reader: valid files', () => {
  it('accepts tensors listed in any order, zero-size tensors and metadata', () => {
    const header = `{"b":${t('F32', [1], [4, 8])},"__metadata__":{"format":"pt"},"z":${t('F16', [0, 3], [8, 8])},"a":${t('F32', [1], [0, 4])}}   `;
    const bytes = file(header, 8);
    new DataView(bytes.buffer).setFloat32(8 + header.length, 1.5, true);
    new DataView(bytes.buffer).setFloat32(8 + header.length + 4, -2, true);
    const st = parseSafetensors('ok.safetensors', bytes);
    expect(st.names()).toEqual(['a', 'b', 'z']);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.f32('a')]).toEqual([1.5]);
    expect([...st.f32('b')]).toEqual([-2]);
    expect(st.f32('z').length).toBe(0);
    const a = st.index.tensors.get('a')!;
    expect(a.begin).toBe(8 + header.length);
    expect(a.end).toBe(8 + header.length + 4);
  });

  it('accepts an empty file {}', () => {
    const st = parseSafetensors('e', file('{}', 0));
    expect(st.names()).toEqual([]);
    expect(st.metadata).toBeNull();
  });

  it('reads the fixture model from a file, by range, matching an in-memory parse', async () => {
    const path = `${FIXTURES}tiny-llama/model/model.safetensors`;
    const src = await fileSource(path);
    const index = await readSafetensorsHeader(src);
    const mem = parseSafetensors('model.safetensors', new Uint8Array(readFileSync(path)));
    expect(index.metadata).toEqual({ format: 'pt' });
    expect([...index.tensors.keys()]).toEqual(mem.names());
    expect(index.tensors.get('model.embed_tokens.weight')).toMatchObject({ dtype: 'F32', shape: [512, 64] });
    for (const name of mem.names()) expect(await readTensorF32(src, index, name)).toEqual(mem.f32(name));
  });

  it('reads from a Blob source the same as from bytes', async () => {
    const bytes = new Uint8Array(readFileSync(`${FIXTURES}tiny-qwen3/adapter_init/adapter_model.safetensors`));
    const src = blobSource('adapter.safetensors', new Blob([bytes]));
    const index = await readSafetensorsHeader(src);
    const mem = parseSafetensors('adapter.safetensors', bytes);
    const name = mem.names()[3];
    expect(await readTensorF32(src, index, name)).toEqual(mem.f32(name));
  });

  it('refuses to read a non-float tensor as f32, naming the dtype', async () => {
    const bytes = file(`{"ids":${t('I64', [1], [0, 8])}}`, 8);
    const src = bytesSource('ids.safetensors', bytes);
    const index = await readSafetensorsHeader(src);
    await expect(readTensorF32(src, index, 'ids')).rejects.toThrow(/ids.safetensors: tensor "ids": dtype I64 cannot be read as floats/);
    await expect(readTensorF32(src, index, 'nope')).rejects.toThrow(/tensor "nope" is not in the file/);
  });
});

describe('dtype conversion', () => {
  /** Reads 16-bit patterns as `dtype` through the real file path. */
  function decode16(dtype: 'F16' | 'BF16', bits: number[]): number[] {
    const n = bits.length;
    const bytes = file(`{"x":${t(dtype, [n], [0, 2 * n])}}`, 2 * n);
    const base = bytes.byteLength - 2 * n;
    bits.forEach((b, i) => new DataView(bytes.buffer).setUint16(base + 2 * i, b, true));
    return [...parseSafetensors('c', bytes).f32('x')];
  }

  it('BF16 → f32 exactly (normals, subnormals, zeros, inf, nan)', () => {
    const got = decode16('BF16', [0x3f80, 0xc000, 0x3e20, 0x0001, 0x8001, 0x0080, 0x7f7f, 0x8000, 0x7f80, 0xff80, 0x7fc0]);
    expect(got.slice(0, 10)).toEqual([1, -2, 0.15625, 2 ** -133, -(2 ** -133), 2 ** -126, (2 - 2 ** -7) * 2 ** 127, -0, Infinity, -Infinity]);
    expect(Object.is(got[7], -0)).toBe(true);
    expect(got[10]).toBeNaN();
  });

  it('F16 → f32 exactly (normals, subnormals, zeros, inf, nan)', () => {
    const got = decode16('F16', [0x3c00, 0xc000, 0x3555, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x8001]);
    expect(got.slice(0, 10)).toEqual([1, -2, 0.333251953125, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, -0, Infinity, -Infinity]);
    expect(Object.is(got[7], -0)).toBe(true);
    expect(got[10]).toBeNaN();
    expect(got[11]).toBe(-(2 ** -24));
    // every one of the 65536 patterns round-trips through f32ToF16Bits (NaNs stay NaN)
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(v)))).toBe(true);
      else expect(f32ToF16Bits(v)).toBe(h);
    }
  });

  it('F64 → f32 rounds to nearest', () => {
    const bytes = file(`{"x":${t('F64', [3], [0, 24])}}`, 24);
    const dv = new DataView(bytes.buffer);
    [0.1, -1e300, 1 / 3].forEach((v, i) => dv.setFloat64(bytes.byteLength - 24 + 8 * i, v, true));
    expect([...parseSafetensors('c', bytes).f32('x')]).toEqual([Math.fround(0.1), -Infinity, Math.fround(1 / 3)]);
  });

  it('f32 → F16 rounds to nearest even, with subnormals and overflow', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie above max → inf
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even zero
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the smallest normal
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1e-30)).toBe(0);
  });

  it('f32 → BF16 rounds to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('safetensors writer', () => {
  it('matches the reference serializer byte for byte', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const out = writeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data }]);
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    expect([...out]).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(header), ...new Uint8Array(data.buffer)]);
    // the reference's test_empty cases (header padded with spaces to 8 bytes)
    expect([...writeSafetensors([])]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode('{}      ')]);
    const withMeta = writeSafetensors([], { framework: 'pt' });
    expect(new TextDecoder().decode(withMeta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMeta[0]).toBe(40);
  });

  it('rewrites the fixture model and adapter files byte for byte', () => {
    for (const path of [`${FIXTURES}tiny-llama/model/model.safetensors`, `${FIXTURES}tiny-qwen2/adapter_final/adapter_model.safetensors`]) {
      const bytes = new Uint8Array(readFileSync(path));
      const st = parseSafetensors(path, bytes);
      const tensors = st.names().map((name) => ({ name, dtype: 'F32' as const, shape: st.index.tensors.get(name)!.shape, data: st.f32(name) }));
      tensors.reverse();
      expect(Buffer.from(writeSafetensors(tensors, st.metadata!)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('round-trips F16 and BF16, ordering by dtype alignment then name, header padded to 8', () => {
    const vals = new Float32Array([1, -2.5, 0.1, 65504, 2 ** -24, 3e-8]);
    const out = writeSafetensors(
      [
        { name: 'h', dtype: 'F16', shape: [2, 3], data: vals },
        { name: 'b', dtype: 'BF16', shape: [6], data: vals },
        { name: 'f2', dtype: 'F32', shape: [6], data: vals },
        { name: 'f1', dtype: 'F32', shape: [3, 2], data: vals },
      ],
      { format: 'pt' },
    );
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const st = parseSafetensors('rt', out);
    expect(st.names()).toEqual(['f1', 'f2', 'b', 'h']);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.f32('f1')).toEqual(vals);
    expect([...st.f32('h')]).toEqual([...vals].map((v) => f16BitsToF32(f32ToF16Bits(v))));
    expect([...st.f32('h')].slice(0, 2)).toEqual([1, -2.5]);
    expect(st.f32('h')[3]).toBe(65504);
    expect(st.f32('h')[4]).toBe(2 ** -24);
    expect([...st.f32('b')]).toEqual([1, -2.5, 0.10009765625, 65536, 2 ** -24, 129 * 2 ** -32]);
  });

  it('refuses duplicates, bad shapes and bad metadata', () => {
    const d = new Float32Array(4);
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [4], data: d }, { name: 'a', dtype: 'F32', shape: [4], data: d }])).toThrow(/duplicate tensor "a"/);
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: d }])).toThrow(/tensor "a": shape \[3\] needs 3 values but data has 4/);
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [-2, -2], data: d }])).toThrow(/non-negative integers/);
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2.5], data: d }])).toThrow(/non-negative integers/);
    expect(() => writeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [4], data: d }])).toThrow(/reserved/);
    expect(() => writeSafetensors([], { a: 1 as unknown as string })).toThrow(/__metadata__ "a" must be a string/);
  });
});
