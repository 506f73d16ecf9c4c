import { describe, expect, it } from 'vitest';
import { adapterInZip, isAdapterEntry } from './adapter-zip';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('an adapter inside a .zip', () => {
  it('finds the pair at the top or in one folder, named after the archive', () => {
    const top = adapterInZip({ 'adapter_config.json': bytes('{"r": 4}'), 'adapter_model.safetensors': bytes('W'), 'README.md': bytes('#') }, 'lora-adapter.zip');
    expect(top).toEqual({ name: 'lora-adapter', config: '{"r": 4}', weights: bytes('W') });
    const nested = adapterInZip({ 'runs/a/adapter_config.json': bytes('{}'), 'runs/a/adapter_model.safetensors': bytes('X') }, '/tmp/My Adapter.ZIP');
    expect(nested).toEqual({ name: 'My Adapter', config: '{}', weights: bytes('X') });
  });

  it('says what is missing, including a pair split across folders', () => {
    expect(adapterInZip({ 'README.md': bytes('#') }, 'notes.zip')).toBe('notes.zip holds no adapter_config.json and adapter_model.safetensors');
    expect(adapterInZip({ 'a/adapter_config.json': bytes('{}'), 'b/adapter_model.safetensors': bytes('X') }, 'x.zip')).toBe(
      'x.zip holds no adapter_model.safetensors beside its a/adapter_config.json',
    );
  });

  it('inflates only the two files an adapter needs', () => {
    expect(['adapter_config.json', 'x/adapter_model.safetensors', 'README.md', 'x/adapter_config.json.bak'].map(isAdapterEntry)).toEqual([true, true, false, false]);
  });
});
