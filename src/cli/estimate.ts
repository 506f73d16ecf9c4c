// estimate --model PRESET|DIR --batch B --seq T --rank R [--quant none|int8|int4] [--checkpointing]
//          [--targets q_proj,v_proj|attention|mlp|all] [--grad-accum N] [--method sft|dpo|ipo|orpo] [--json]
// With a preference --method, --batch counts pairs: two sequences each, both held in memory.
// The GPU memory a training run of that shape will hold (src/engine/train/memory.ts: the trainer's
// own buffer list), without a GPU: one JSON line {"total_bytes", "largest_buffer": {"label",
// "bytes"}, "largest_binding", "parts"}. PRESET is a key of the bench presets (smollm2-135m, …);
// DIR a model folder, of which only config.json is read. `bench … --steps 0` measures the same
// run's gpu_bytes on a real device.
import { existsSync } from 'node:fs';
import { parseCommandLine, UsageError } from './args';
import { parseMethod, parseTargets } from '../settings/run-settings';
import { METHODS } from '../engine/train/types';
import { BenchFieldError, cliLabel, intField, quantField } from '../engine/bench/fields';
import { PRESETS } from '../engine/model/presets';
import { PROJECTIONS, type ModelSpec } from '../engine/model/spec';
import { loadModelSpec } from '../engine/model/weights';
import { estimateTrainingMemory, preferenceRows } from '../engine/train/memory';
import { nodeFolder } from '../io/node-files';

async function specFor(model: string): Promise<ModelSpec> {
  const preset = PRESETS[model];
  if (preset) return preset;
  if (!existsSync(model)) throw new UsageError(`estimate: --model ${model} is neither a preset (${Object.keys(PRESETS).join(', ')}) nor a folder`);
  return loadModelSpec(nodeFolder(model));
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools } = parseCommandLine('estimate', args, {
    values: ['model', 'batch', 'seq', 'rank', 'quant', 'targets', 'grad-accum', 'method'],
    // --json is accepted for the command line: the estimate is always printed as JSON
    bools: ['checkpointing', 'json'],
  });
  if (!flags['model']) throw new UsageError('estimate: --model is required');
  let options;
  try {
    const rank = intField(flags, 'rank', 16, cliLabel);
    const method = parseMethod(flags['method'] ?? 'sft');
    if (!method) throw new UsageError(`estimate: --method ${flags['method']}: must be ${METHODS.join(', ')}`);
    options = {
      method,
      batch: preferenceRows(intField(flags, 'batch', 1, cliLabel), method),
      seq: intField(flags, 'seq', 512, cliLabel),
      quant: quantField(flags, 'quant', cliLabel),
      checkpointing: bools.has('checkpointing'),
      gradAccum: intField(flags, 'grad-accum', 1, cliLabel),
      lora: { r: rank, alpha: 2 * rank, dropout: 0, targetModules: flags['targets'] ? parseTargets(flags['targets']) : [...PROJECTIONS], useRslora: false },
    };
  } catch (e) {
    if (e instanceof BenchFieldError || (e as Error).message.startsWith('--targets')) throw new UsageError(`estimate: ${(e as Error).message}`);
    throw e;
  }
  const est = estimateTrainingMemory(await specFor(flags['model']), options);
  process.stdout.write(`${JSON.stringify(est)}\n`);
  return 0;
}
