import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32Bitwise, readZip } from './testing/read-zip';
import { crc32, dosDateTime, zipStore } from './zip';

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

describe('dosDateTime', () => {
  it('packs local time with 2-second resolution', () => {
    const { time, date } = dosDateTime(DATE);
    expect(date >> 9).toBe(2026 - 1980);
    expect((date >> 5) & 15).toBe(11);
    expect(date & 31).toBe(26);
    expect(time >> 11).toBe(14);
    expect((time >> 5) & 63).toBe(37);
    expect((time & 31) * 2).toBe(42);
  });
  it('clamps dates outside 1980–2107', () => {
    expect(dosDateTime(new Date(1970, 0, 1))).toEqual({ time: 0, date: (1 << 5) | 1 });
    expect(dosDateTime(new Date(2200, 0, 1)).date >> 9).toBe(127);
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
      expect(e.flags & 0x800, 'UTF-8 name flag').toBe(0x800);
      expect(e.versionMadeBy >> 8, 'made by UNIX').toBe(3);
      expect(e.externalAttrs >>> 16).toBe(0o100644);
      expect(e.dosTime).toBe(dosDateTime(DATE).time);
      expect(e.dosDate).toBe(dosDateTime(DATE).date);
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
