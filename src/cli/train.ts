// train --model MODEL_DIR --data FILE --out DIR [--rank R --alpha A --dropout P --targets q_proj,v_proj|attention|mlp|all
//       --rslora --lr LR --schedule constant|linear|cosine --warmup N --epochs E | --max-steps N --batch-size B
//       --grad-accum G --max-length T --seed S --weight-decay W --max-grad-norm C --checkpointing
//       --format F --skip-invalid --val-fraction F --eval-every N --quant none] [--init-adapter PEFT_DIR|ZIP]
// Trains a LoRA adapter headlessly with the engine and writes it in PEFT format to DIR. Prints one
// progress line per step on stderr and a final JSON summary on stdout. --init-adapter continues
// training an existing PEFT adapter: its r, alpha, targets, rsLoRA, rank/alpha patterns and layers
// are the run's (so --rank, --alpha, --targets and --rslora are refused beside it); its
// lora_dropout is the default dropout.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeGpu } from '../gpu/node';
import { memoryFolder, openModelFolder, type ModelFolder } from '../engine/model/weights';
import { nodeFolder } from '../io/node-files';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, AdapterError, readAdapter, writeAdapter } from '../engine/lora/adapter';
import { adapterInZip, isAdapterEntry } from '../engine/lora/adapter-zip';
import { unzipSync } from 'fflate';
import { validateLoraSettings } from '../engine/lora/config';
import { PROJECTIONS, type Projection } from '../engine/model/spec';
import { Trainer } from '../engine/train/trainer';
import { TrainingPlan } from '../engine/train/plan';
import { DEFAULT_TRAIN, type LoraHyper, type Schedule, type TrainHyper } from '../engine/train/types';
import { splitValidation } from '../data/sequences';
import { DatasetError, formatIssue } from '../data/errors';
import { DATA_FORMATS, type DataFormat } from '../data/formats';
import { loadModelTokenizer, openDataFile } from './prepare';
import { prepareDataset } from '../data/pipeline';
import { parseArgs, usageErrors } from './args';
import type { BaseQuant } from '../engine/model/gpu-weights';

const VALUE_FLAGS = [
  'model', 'data', 'out', 'rank', 'alpha', 'dropout', 'targets', 'lr', 'schedule', 'warmup', 'epochs', 'max-steps',
  'batch-size', 'grad-accum', 'max-length', 'seed', 'weight-decay', 'max-grad-norm', 'format', 'val-fraction',
  'eval-every', 'quant', 'init-adapter',
];
const BOOL_FLAGS = ['rslora', 'checkpointing', 'skip-invalid'];
/** Flags that the adapter of --init-adapter decides. */
const ADAPTER_FLAGS = ['rank', 'alpha', 'targets', 'rslora'];

/** --init-adapter: a PEFT adapter folder, or a .zip holding one (such as the studio's export). */
function adapterFolder(path: string): ModelFolder {
  if (!/\.zip$/i.test(path)) return nodeFolder(path);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(readFileSync(path)), { filter: (f) => isAdapterEntry(f.name) });
  } catch (e) {
    throw new AdapterError(`${path}: not a readable .zip (${(e as Error).message})`);
  }
  const found = adapterInZip(entries, path);
  if (typeof found === 'string') throw new AdapterError(found);
  return memoryFolder(found.name, { [ADAPTER_CONFIG_FILE]: found.config, [ADAPTER_WEIGHTS_FILE]: found.weights });
}

export function parseTargets(s: string): Projection[] {
  if (s === 'all') return [...PROJECTIONS];
  if (s === 'attention') return ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
  if (s === 'mlp') return ['gate_proj', 'up_proj', 'down_proj'];
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const t of list) if (!(PROJECTIONS as readonly string[]).includes(t)) throw new Error(`--targets: "${t}" is not one of ${PROJECTIONS.join(', ')} (or attention, mlp, all)`);
  return list as Projection[];
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(args, VALUE_FLAGS);
  const errors: string[] = [];
  errors.push(...usageErrors({ flags, bools, positional }, { values: VALUE_FLAGS, bools: BOOL_FLAGS }));
  const initAdapter = flags['init-adapter'];
  if (initAdapter !== undefined) {
    for (const f of ADAPTER_FLAGS) if (flags[f] !== undefined || bools.has(f)) errors.push(`--${f} cannot be combined with --init-adapter: the adapter's own setting is used`);
  }
  const num = (name: string, dflt: number, check: (v: number) => boolean, what: string): number => {
    const raw = flags[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || !check(v)) errors.push(`--${name} ${raw}: must be ${what}`);
    return v;
  };
  const int = (v: number) => Number.isInteger(v) && v >= 1;
  for (const req of ['model', 'data', 'out']) if (!flags[req]) errors.push(`--${req} is required`);
  const quant = flags['quant'] ?? 'none';
  if (quant !== 'none' && quant !== 'int8' && quant !== 'int4') errors.push(`--quant ${quant}: must be none, int8 or int4`);
  const schedule = (flags['schedule'] ?? 'cosine') as Schedule;
  if (!['constant', 'linear', 'cosine'].includes(schedule)) errors.push(`--schedule ${schedule}: must be constant, linear or cosine`);
  const format = (flags['format'] ?? 'auto') as DataFormat | 'auto';
  if (format !== 'auto' && !(DATA_FORMATS as readonly string[]).includes(format)) errors.push(`--format ${format} is not known`);
  let targets: Projection[] = [...PROJECTIONS];
  try {
    if (flags['targets']) targets = parseTargets(flags['targets']);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const r = num('rank', 16, int, 'a positive integer');
  const lora: LoraHyper = {
    r,
    alpha: num('alpha', 2 * r, (v) => v > 0, 'positive'),
    dropout: num('dropout', 0.05, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    targetModules: targets,
    useRslora: bools.has('rslora'),
  };
  const maxStepsFlag = flags['max-steps'] === undefined ? undefined : num('max-steps', 1, int, 'a positive integer');
  const epochs = num('epochs', 1, (v) => v > 0, 'positive');
  const hyper: TrainHyper = {
    ...DEFAULT_TRAIN,
    lr: num('lr', 2e-4, (v) => v > 0, 'positive'),
    schedule,
    warmupSteps: num('warmup', 0, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'),
    gradAccum: num('grad-accum', 1, int, 'a positive integer'),
    weightDecay: num('weight-decay', 0, (v) => v >= 0, 'non-negative'),
    maxGradNorm: num('max-grad-norm', 1, (v) => v >= 0, 'non-negative'),
    seed: num('seed', 42, (v) => Number.isInteger(v), 'an integer'),
    checkpointing: bools.has('checkpointing'),
  };
  const batchSize = num('batch-size', 4, int, 'a positive integer');
  const maxLength = num('max-length', 1024, int, 'a positive integer');
  const valFraction = num('val-fraction', 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const evalEvery = num('eval-every', 0, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  try {
    validateLoraSettings(lora);
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (errors.length) {
    process.stderr.write(errors.map((e) => `train: ${e}\n`).join(''));
    return 2;
  }

  const modelDir = flags['model']!;
  const { spec, weights } = await openModelFolder(nodeFolder(modelDir)); // streamed to the GPU, tensor by tensor
  let start: Awaited<ReturnType<typeof readAdapter>> | null = null;
  if (initAdapter !== undefined) {
    try {
      start = await readAdapter(adapterFolder(initAdapter), spec);
    } catch (e) {
      if (!(e instanceof AdapterError)) throw e;
      process.stderr.write(`train: --init-adapter ${e.message}\n`);
      return 1;
    }
    Object.assign(lora, { ...start.settings, dropout: flags['dropout'] === undefined ? start.settings.dropout : lora.dropout });
  }
  const tok = loadModelTokenizer(modelDir);
  let prepared;
  try {
    prepared = await prepareDataset(openDataFile(flags['data']!), tok, {
      fileName: flags['data']!,
      format: format === 'auto' ? undefined : format,
      maxLength,
      skipInvalid: bools.has('skip-invalid'),
    });
  } catch (e) {
    if (e instanceof DatasetError) {
      process.stderr.write(`train: ${e.message}\n${e.issues.map((i) => `${formatIssue(i)}\n`).join('')}`);
      return 1;
    }
    throw e;
  }
  for (const w of prepared.warnings) process.stderr.write(`warning: ${w}\n`);
  const { train, validation } = splitValidation(prepared.examples, valFraction, hyper.seed);
  // The same batcher as the studio's worker: step k's micro-batches are a pure function of k.
  const plan = new TrainingPlan(train, { batchSize, gradAccum: hyper.gradAccum, padId: tok.padId, seed: hyper.seed, maxSteps: maxStepsFlag, epochs, maxLength });
  hyper.maxSteps = plan.totalSteps;
  const valBatches = plan.batchesOf(validation);
  const maxSeq = valBatches.reduce((m, b) => Math.max(m, b.T), plan.maxSeq);

  const gpu = await createNodeGpu();
  try {
    const trainer = await Trainer.create(gpu, { spec, weights }, lora, hyper, { maxBatch: batchSize, maxSeq, quant: quant as BaseQuant, initAdapter: start?.tensors });
    const started = performance.now();
    const losses: number[] = [];
    const valLosses: Array<{ step: number; loss: number }> = [];
    const evaluate = async (): Promise<number> => {
      let sum = 0;
      for (const b of valBatches) sum += await trainer.evalLoss(b);
      return sum / valBatches.length;
    };
    let tokens = 0;
    for (let s = 0; s < plan.totalSteps; s++) {
      const { epoch, micro } = plan.microBatches(s);
      const res = await trainer.trainStep(micro);
      tokens += res.tokens;
      losses.push(res.loss);
      const secs = (performance.now() - started) / 1000;
      process.stderr.write(
        `step ${res.step}/${plan.totalSteps} epoch ${epoch + 1} loss ${res.loss.toFixed(4)} grad_norm ${res.gradNorm?.toFixed(4)} lr ${res.lr.toExponential(3)} tok/s ${(tokens / secs).toFixed(1)}\n`,
      );
      if (valBatches.length && evalEvery && res.step % evalEvery === 0) {
        const vl = await evaluate();
        valLosses.push({ step: res.step, loss: vl });
        process.stderr.write(`step ${res.step} val_loss ${vl.toFixed(4)}\n`);
      }
    }
    if (valBatches.length && (!valLosses.length || valLosses[valLosses.length - 1].step !== plan.totalSteps)) {
      valLosses.push({ step: plan.totalSteps, loss: await evaluate() });
    }
    const tensors = await trainer.exportAdapter();
    const { config, safetensors } = writeAdapter(spec, lora, tensors, start?.baseModel ?? null);
    const out = flags['out']!;
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'adapter_config.json'), config);
    await writeFile(join(out, 'adapter_model.safetensors'), safetensors);
    const seconds = (performance.now() - started) / 1000;
    trainer.destroy();
    process.stdout.write(
      `${JSON.stringify({
        out,
        steps: plan.totalSteps,
        examples: { train: train.length, validation: validation.length },
        first_loss: losses[0],
        final_loss: losses[losses.length - 1],
        losses,
        val_losses: valLosses,
        tokens,
        seconds: Math.round(seconds * 100) / 100,
        tokens_per_s: Math.round((tokens / seconds) * 10) / 10,
        stats: prepared.stats,
      })}\n`,
    );
    return 0;
  } finally {
    gpu.destroy();
  }
}
