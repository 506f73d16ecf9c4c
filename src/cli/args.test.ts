import { describe, expect, it } from 'vitest';
import { parseArgs, parseCommandLine, usageErrors, UsageError } from './args';

const spec = { values: ['model', 'steps'], bools: ['json', 'checkpointing'], positional: 1 };

describe('command lines', () => {
  it('parses values (spaced or with =), lone flags and positionals', () => {
    expect(parseArgs(['dir', '--model', 'm', '--steps=3', '--json'], ['model', 'steps'])).toEqual({
      positional: ['dir'],
      flags: { model: 'm', steps: '3' },
      bools: new Set(['json']),
    });
    expect(() => parseArgs(['--model'], ['model'])).toThrow('--model needs a value');
  });

  it('names every flag the command does not know, misused flags and extra arguments', () => {
    expect(usageErrors(parseArgs(['dir', '--model', 'm', '--json'], spec.values), spec)).toEqual([]);
    const errors = usageErrors(parseArgs(['a', 'b', '--modle', 'm', '--json=1', '--steps'], ['modle', 'model']), spec);
    expect(errors).toEqual([
      '--steps needs a value',
      '--modle is not an option here (options: --model, --steps, --json, --checkpointing)',
      '--json takes no value',
      'unexpected argument "b"',
    ]);
  });

  it('parseCommandLine throws one UsageError naming the command on each line', () => {
    expect(() => parseCommandLine('bench', ['--batchsize', '4'], spec)).toThrow(UsageError);
    // "4" is taken as the one positional argument: --batchsize is no value flag
    expect(() => parseCommandLine('bench', ['--batchsize', '4', 'x'], spec)).toThrow(
      'bench: --batchsize is not an option here (options: --model, --steps, --json, --checkpointing)\nbench: unexpected argument "x"',
    );
    expect(() => parseCommandLine('bench', ['--model'], spec)).toThrow('bench: --model needs a value');
  });
});

describe('numeric flags are bounded', () => {
  it('train refuses --rank 1e9, --batch-size 1e6 and --max-length 1e9 by name with the cap, before reading anything', async () => {
    const { run } = await import('./train');
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await run(['--model', '/nonexistent', '--data', '/nonexistent.jsonl', '--out', '/tmp/x', '--rank', '1e9', '--batch-size', '1e6', '--max-length', '1e9']);
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(2);
    const text = err.join('');
    expect(text).toContain('--rank 1000000000 is more than the 4096 allowed');
    expect(text).toContain('--batch-size 1000000 is more than the 1024 allowed');
    expect(text).toContain('--max-length 1000000000 is more than the 1048576 allowed');
  });
});
