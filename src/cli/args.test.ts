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
