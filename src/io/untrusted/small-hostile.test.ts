// The smaller hostile cases: 1e999 in a config, an archive with two adapter configs (or one entry
// twice), an indent() that would build a gigabyte, a model of one position.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Zip, ZipPassThrough, zipSync } from 'fflate';
import { ModelConfigError, parseModelConfig } from '../../engine/model/config';
import { AdapterError } from '../../engine/lora/adapter';
import { readAdapterZip } from '../../engine/lora/adapter-zip';
import { BudgetedTemplate, TemplateBudgetError } from '../../data/template-budget';
import { preview } from './limits';

const REF = join(process.cwd(), '../shared/fixtures/reference/tiny-llama');
const config = (): Record<string, unknown> => JSON.parse(readFileSync(join(REF, 'model/config.json'), 'utf8')) as Record<string, unknown>;
const adapterFiles = (): Record<string, Uint8Array> => ({
  'adapter_config.json': readFileSync(join(REF, 'adapter_init/adapter_config.json')),
  'adapter_model.safetensors': readFileSync(join(REF, 'adapter_init/adapter_model.safetensors')),
});

describe('1e999', () => {
  it('is named as a number out of range, not "null"', () => {
    expect(preview(JSON.parse('1e999'))).toBe('Infinity (a number beyond the range of a float, such as 1e999)');
    const c = JSON.parse(JSON.stringify(config()).replace(/"hidden_size":\s*\d+/, '"hidden_size": 1e999')) as Record<string, unknown>;
    expect(() => parseModelConfig(c)).toThrow(ModelConfigError);
    expect(() => parseModelConfig(c)).toThrow(/hidden_size.*Infinity \(a number beyond the range of a float/);
  });
});

describe('an adapter archive that is ambiguous', () => {
  it('two adapter_config.json entries are refused, naming both', () => {
    const f = adapterFiles();
    const zip = zipSync({ ...f, 'other/adapter_config.json': f['adapter_config.json'], 'other/adapter_model.safetensors': f['adapter_model.safetensors'] });
    expect(() => readAdapterZip(zip, 'a.zip')).toThrow(AdapterError);
    expect(() => readAdapterZip(zip, 'a.zip')).toThrow('a.zip holds 2 adapter_config.json entries ("adapter_config.json", "other/adapter_config.json")');
  });

  it('one entry name listed twice is refused', () => {
    const f = adapterFiles();
    // fflate's streaming Zip writes what it is given, a repeated name included.
    const parts: Uint8Array[] = [];
    const z = new Zip((err, data) => {
      if (err) throw err;
      parts.push(data);
    });
    for (const [name, data] of [['adapter_config.json', f['adapter_config.json']], ['adapter_model.safetensors', f['adapter_model.safetensors']], ['adapter_model.safetensors', new Uint8Array(8)]] as const) {
      const entry = new ZipPassThrough(name);
      z.add(entry);
      entry.push(data, true);
    }
    z.end();
    const zip = Uint8Array.from(Buffer.concat(parts));
    expect(() => readAdapterZip(zip, 'b.zip')).toThrow('b.zip: adapter_model.safetensors appears twice in the archive');
  });
});

describe('an indent() bomb', () => {
  it('is refused before the string is built', () => {
    const t = new BudgetedTemplate(`{% set s = "${'a\\n'.repeat(64)}" %}{{ s | indent(16777215) }}`);
    const before = process.memoryUsage().rss;
    expect(() => t.render({})).toThrow(TemplateBudgetError);
    expect(() => t.render({})).toThrow(/indents 65 lines by 16777215/);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
    expect(new BudgetedTemplate('{{ "a\\nb" | indent(2) }}').render({})).toBe('a\n  b');
  });
});

describe('max_position_embeddings', () => {
  it('1 is refused by name', () => {
    expect(() => parseModelConfig({ ...config(), max_position_embeddings: 1 })).toThrow(/max_position_embeddings 1: a model of fewer than 2 positions/);
  });
});
