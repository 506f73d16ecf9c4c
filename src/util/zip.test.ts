import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32Bitwise, readZip } from './testing/read-zip';
import { unzipSync } from 'fflate';
import { crc32 } from './crc32';
import { ZipLimitError, ZipWriter, zipStore } from './zip';
import { BlobSink } from './byte-sink';

const enc = new TextEncoder();

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('which', [cmd], { encoding: 'utf8' }).status === 0;
}

const DATE = new Date(2026, 10, 26, 14, 37, 42); // local time
const FILES = [
  { name: 'adapter_model.safetensors', data: noise(100_003, 7) },
  { name: 'adapter_config.json', data: '{"peft_type": "LORA", "r": 8}\n' },
  { name: 'README.md', data: '# Adapter\n\nTrained with LoRA Studio — ünïcödé ✓\n' },
  { name: 'notes/モデル-é.txt', data: 'UTF-8 name\n' },
  { name: 'empty.bin', data: new Uint8Array(0) },
];

describe('crc32', () => {
  it('matches the standard check value and the bitwise reference', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32Bitwise(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    for (const n of [1, 2, 255, 4096, 65_537]) {
      const d = noise(n, n);
      expect(crc32(d)).toBe(crc32Bitwise(d));
    }
  });
  it('chains over chunks', () => {
    const d = noise(10_000, 3);
    expect(crc32(d.subarray(4000), crc32(d.subarray(0, 4000)))).toBe(crc32(d));
  });
});

describe('zipStore', () => {
  const zip = zipStore(FILES, DATE);

  it('writes what an independent reader parses back: signatures, headers, CRCs, names, data', () => {
    const z = readZip(zip);
    expect(z.entries.map((e) => e.name)).toEqual(FILES.map((f) => f.name));
    z.entries.forEach((e, i) => {
      const want = typeof FILES[i].data === 'string' ? enc.encode(FILES[i].data as string) : (FILES[i].data as Uint8Array);
      expect(e.data).toEqual(want);
      expect(e.crc).toBe(crc32Bitwise(want));
      expect(e.method).toBe(0);
      expect(e.flags & 0x800, 'UTF-8 name flag where the name is not ASCII').toBe(/^[\x20-\x7e]+$/.test(e.name) ? 0 : 0x800);
      expect(e.versionMadeBy >> 8, 'made by UNIX').toBe(3);
      expect(e.externalAttrs >>> 16).toBe(0o100644);
      expect(e.dosDate >> 9).toBe(2026 - 1980);
      expect((e.dosDate >> 5) & 15).toBe(11);
      expect(e.dosDate & 31).toBe(26);
      expect([e.dosTime >> 11, (e.dosTime >> 5) & 63, (e.dosTime & 31) * 2]).toEqual([14, 37, 42]);
    });
    // Layout: local entries from 0, then the central directory, then the 22-byte end record.
    expect(z.entries[0].localHeaderOffset).toBe(0);
    expect(z.centralDirectoryOffset + z.centralDirectorySize + 22).toBe(zip.length);
    const v = new DataView(zip.buffer, zip.byteOffset);
    expect(v.getUint32(0, true)).toBe(0x04034b50);
    expect(v.getUint32(z.centralDirectoryOffset, true)).toBe(0x02014b50);
    expect(v.getUint32(zip.length - 22, true)).toBe(0x06054b50);
  });

  it('is an archive that a corrupted byte breaks (the reader really checks CRCs)', () => {
    const bad = zip.slice();
    bad[30 + 'adapter_model.safetensors'.length + 10] ^= 0xff;
    expect(() => readZip(bad)).toThrow(/CRC/);
  });

  it('an empty archive is just the end record', () => {
    const z = zipStore([], DATE);
    expect(z.length).toBe(22);
    expect(readZip(z).entries).toEqual([]);
  });

  it('refuses names that would extract outside the folder, and duplicates', () => {
    for (const name of ['', '/etc/passwd', '../x', 'a/../b', 'a\\b', 'C:x', 'a//b', 'dir/']) {
      expect(() => zipStore([{ name, data: 'x' }]), name).toThrow(/bad file name/);
    }
    expect(() => zipStore([{ name: 'a', data: '1' }, { name: 'a', data: '2' }])).toThrow(/duplicate/);
  });

  it.runIf(hasCommand('unzip'))('passes `unzip -t`, and `unzip -p` gives back each file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
    try {
      const path = join(dir, 'adapter.zip');
      writeFileSync(path, zip);
      const out = execFileSync('unzip', ['-t', path], { encoding: 'utf8' });
      expect(out).toMatch(/No errors detected/);
      for (const f of FILES.filter((f) => /^[\x20-\x7e]+$/.test(f.name))) {
        const got = execFileSync('unzip', ['-p', path, f.name], { maxBuffer: 1 << 24 });
        const want = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : Buffer.from(f.data);
        expect(Buffer.compare(got, want), f.name).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(hasCommand('python3'))("passes Python's zipfile testzip() with the same UTF-8 names", () => {
    const dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
    try {
      const path = join(dir, 'adapter.zip');
      writeFileSync(path, zip);
      const script = [
        'import json, sys, zipfile',
        'z = zipfile.ZipFile(sys.argv[1])',
        'print(json.dumps({"bad": z.testzip(), "names": z.namelist(), "sizes": [i.file_size for i in z.infolist()]}))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      const res = JSON.parse(r.stdout) as { bad: string | null; names: string[]; sizes: number[] };
      expect(res.bad).toBeNull();
      expect(res.names).toEqual(FILES.map((f) => f.name));
      expect(res.sizes).toEqual(FILES.map((f) => (typeof f.data === 'string' ? enc.encode(f.data).length : f.data.length)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ZipWriter (the streaming form, fflate underneath)', () => {
  const want = (f: (typeof FILES)[number]): Uint8Array => (typeof f.data === 'string' ? enc.encode(f.data) : f.data);

  it('hands each chunk to the sink as it is written, and the archive opens in fflate’s reader and ours with the same bytes', async () => {
    const seen: Uint8Array[] = [];
    const sink = new BlobSink(1 << 10); // folds into Blobs every KiB
    const zip = new ZipWriter({ write: async (b) => (seen.push(b), sink.write(b)) }, DATE);
    const big = FILES[0];
    const f = await zip.create(big.name);
    const data = want(big);
    await f.write(data.subarray(0, 50_000));
    // Streamed: the first half is with the sink before the entry is closed.
    expect(seen.reduce((n, c) => n + c.byteLength, 0)).toBeGreaterThanOrEqual(50_000);
    await f.write(data.subarray(50_000));
    await f.close();
    for (const g of FILES.slice(1)) {
      const h = await zip.create(g.name);
      await h.write(want(g));
      await h.close();
    }
    await zip.finish();
    const bytes = new Uint8Array(await sink.blob().arrayBuffer());
    const theirs = unzipSync(bytes);
    expect(Object.keys(theirs)).toEqual(FILES.map((x) => x.name));
    for (const x of FILES) expect(theirs[x.name], x.name).toEqual(want(x));
    expect(readZip(bytes).entries.map((e) => e.data)).toEqual(FILES.map(want));
  });

  it('two entries open at once come out whole and in creation order', async () => {
    const sink = new BlobSink();
    const zip = new ZipWriter(sink, DATE);
    const a = await zip.create('a.onnx');
    const b = await zip.create('a.onnx_data');
    await b.write(enc.encode('data, written first'));
    await a.write(enc.encode('graph'));
    await b.close();
    await a.close();
    await zip.finish();
    const z = readZip(new Uint8Array(await sink.blob().arrayBuffer()));
    expect(z.entries.map((e) => [e.name, new TextDecoder().decode(e.data)])).toEqual([
      ['a.onnx', 'graph'],
      ['a.onnx_data', 'data, written first'],
    ]);
  });

  it('refuses, by name, an entry or an archive that would need ZIP64 before fflate writes wrapped sizes', async () => {
    // A chunk claiming 2 GiB (never allocated): the limits are counted before fflate sees the bytes.
    const claims = (n: number): Uint8Array => ({ byteLength: n }) as Uint8Array;
    const zip = new ZipWriter({ write: async () => undefined });
    const f = await zip.create('model.gguf');
    await f.write(new Uint8Array(8));
    await expect(f.write(claims(2 ** 32 - 8))).rejects.toThrow(new ZipLimitError('zip: model.gguf is 4 GiB or more, which needs ZIP64 (not written)'));
    const two = new ZipWriter({ write: async () => undefined });
    const g = await two.create('part-1.bin');
    await g.write(new Uint8Array(1000));
    await g.close();
    const h = await two.create('part-2.bin');
    await expect(h.write(claims(2 ** 32 - 500))).rejects.toThrow(new ZipLimitError('zip: the archive reaches 4 GiB at part-2.bin, which needs ZIP64 (not written)'));
  });
});
