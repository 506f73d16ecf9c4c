// train --model MODEL_DIR --data FILE --out DIR [--rank R --alpha A --dropout P --targets q_proj,v_proj|attention|mlp|all
//       --rslora --lr LR --schedule constant|linear|cosine --warmup N --epochs E | --max-steps N --batch-size B
//       --grad-accum G --max-length T --seed S --weight-decay W --max-grad-norm C --checkpointing
//       --format F --skip-invalid --val-fraction F --eval-every N --quant none --packing] [--init-adapter PEFT_DIR|ZIP]
//       [--checkpoint-every N] [--stop-after N]
// train --resume DIR [flags that override the saved run's, e.g. --lr]
// Trains a LoRA adapter headlessly with the engine's loop (src/engine/train/loop.ts) and writes it
// in PEFT format to DIR. Prints one progress line per step on stderr and a final JSON summary on
// stdout. --init-adapter continues training an existing PEFT adapter: its r, alpha, targets,
// rsLoRA, rank/alpha patterns and layers are the run's (so --rank, --alpha, --targets and --rslora
// are refused beside it); its lora_dropout is the default dropout.
// --out is checked before anything else; every file is written atomically (export/atomic-sink.ts). A
// checkpoint (train-state.ts) is written every --checkpoint-every steps, at the end, when stopped
// (--stop-after N steps, or Ctrl-C) and before a diverged step's error; --resume DIR continues it.
// A step the GPU's divergence guard refuses ends the run with exit 1 and a message saying what to
// change; the adapter already in DIR is left as it was.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createNodeGpu } from '../gpu/node';
import { memoryFolder, openModelFolder, type ModelFolder } from '../engine/model/weights';
import { ModelWeightsError } from '../engine/model/weight-source';
import { nodeFolder } from '../io/node-files';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, AdapterError, readAdapter, writeAdapter } from '../engine/lora/adapter';
import { readAdapterZip } from '../engine/lora/adapter-zip';
import { validateLoraSettings } from '../engine/lora/config';
import { PROJECTIONS, type Projection } from '../engine/model/spec';
import { Trainer } from '../engine/train/trainer';
import { planItems, tableItems, TrainingPlan, type PlanItems } from '../engine/train/plan';
import { DEFAULT_TRAIN, type Batch, type LoraHyper, type Schedule, type TrainHyper } from '../engine/train/types';
import { DatasetError, formatIssues } from '../data/errors';
import { DATA_FORMATS, type DataFormat } from '../data/formats';
import { loadModelTokenizer } from './prepare';
import { HUB_ENDPOINT_FLAG, openCliData, type CliData } from './data-arg';
import { isHubDataRef } from './hub-dataset';
import { prepareDataset } from '../data/pipeline';
import { isPreferenceFile, preparePreferenceDataset } from '../data/preference';
import { isPreference } from '../engine/train/objective';
import { parseArgs, usageErrors } from './args';
import { DEFAULT_NUMBERS, OTHER_SETTINGS, methodDataProblem } from '../settings/run-settings';
import { parseRunFlags, RUN_BOOL_FLAGS, RUN_VALUE_FLAGS } from './run-flags';
import { runLimitError } from '../io/untrusted/limits';
import type { BaseQuant } from '../engine/model/gpu-weights';
import { RunControl, heldOutCount, holdOut, runLoop } from '../engine/train/loop';
import { DivergenceError } from '../engine/train/divergence';
import { checkOutDir, OutDirError } from '../export/out-dir';
import { writeAdapterPair } from '../export/atomic-sink';
import { fingerprintDifference, fixedSettingChanges, modelFingerprint, TRAIN_STATE_FILE, TrainStateError, loadTrainState, saveTrainState, sha256File, type ModelFingerprint, type SavedRun } from './train-state';
import { SafetensorsError } from '../io/safetensors';

export const TRAIN_VALUE_FLAGS = ['model', 'data', 'out', ...RUN_VALUE_FLAGS, 'format', 'eval-every', 'quant', 'checkpoint-every', 'stop-after', 'resume', HUB_ENDPOINT_FLAG];
const VALUE_FLAGS = TRAIN_VALUE_FLAGS;
/** Flags naming files: kept as absolute paths in the checkpoint, so --resume works from any folder. */
const PATH_FLAGS = ['model', 'data', 'init-adapter'];
/** Flags that belong to one invocation, not to the run a checkpoint describes. */
const ONCE_FLAGS = ['resume', 'stop-after', 'out'];

/** argv without --name VALUE / --name=VALUE. */
export function withoutFlags(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2).split('=')[0] : null;
    if (name !== null && names.includes(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The run's arguments as a checkpoint keeps them: paths absolute, one-invocation flags dropped. */
function runArgs(argv: string[], flags: Record<string, string | undefined>): string[] {
  const args = withoutFlags(argv, [...ONCE_FLAGS, ...PATH_FLAGS]);
  // A `hub:` reference is no path: kept as given.
  for (const f of PATH_FLAGS) if (flags[f] !== undefined) args.push(`--${f}`, f === 'data' && isHubDataRef(flags[f]!) ? flags[f]! : resolve(flags[f]!));
  return args;
}
export const TRAIN_BOOL_FLAGS = [...RUN_BOOL_FLAGS, OTHER_SETTINGS.checkpointing.flag];
const BOOL_FLAGS = TRAIN_BOOL_FLAGS;

/** --init-adapter: a PEFT adapter folder, or a .zip holding one (such as the studio's export). */
export function adapterFolder(path: string): ModelFolder {
  if (!/\.zip$/i.test(path)) return nodeFolder(path);
  const found = readAdapterZip(new Uint8Array(readFileSync(path)), path);
  return memoryFolder(found.name, { [ADAPTER_CONFIG_FILE]: found.config, [ADAPTER_WEIGHTS_FILE]: found.weights });
}


export async function run(argv: string[]): Promise<number> {
  // --resume DIR: the saved run's arguments, then the ones given now (a later flag wins), --out DIR.
  let args = argv;
  let saved: SavedRun | null = null;
  const resumeDir = parseArgs(argv, VALUE_FLAGS).flags['resume'];
  if (resumeDir !== undefined) {
    try {
      saved = await loadTrainState(resumeDir);
    } catch (e) {
      if (!(e instanceof TrainStateError || e instanceof SafetensorsError)) throw e;
      process.stderr.write(`train: ${e.message}\n`);
      return 1;
    }
    args = [...saved.args, ...withoutFlags(argv, ['resume', 'out']), '--out', resumeDir];
  }
  const { flags, bools, positional } = parseArgs(args, VALUE_FLAGS);
  const errors: string[] = [];
  errors.push(...usageErrors({ flags, bools, positional }, { values: VALUE_FLAGS, bools: BOOL_FLAGS }));
  for (const req of ['model', 'data', 'out']) if (!flags[req]) errors.push(`--${req} is required`);
  const quant = flags['quant'] ?? 'none';
  if (quant !== 'none' && quant !== 'int8' && quant !== 'int4') errors.push(`--quant ${quant}: must be none, int8 or int4`);
  const runFlags = parseRunFlags(flags, bools, errors, 'format');
  const { lora, hyper, batchSize, maxLength, maxPromptLength, maxSteps: maxStepsFlag, epochs, valFraction, format, skipInvalid, packing, initAdapter } = runFlags;
  const count = (name: string, dflt: number, positive: boolean): number => {
    const raw = flags[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < (positive ? 1 : 0)) errors.push(`--${name} ${raw}: must be a ${positive ? 'positive' : 'non-negative'} integer`);
    return v;
  };
  const evalEvery = count('eval-every', 0, false);
  const checkpointEvery = count('checkpoint-every', Number(DEFAULT_NUMBERS.checkpointEvery), false);
  const stopAfter = flags['stop-after'] === undefined ? null : count('stop-after', 1, true);
  if (errors.length) {
    process.stderr.write(errors.map((e) => `train: ${e}\n`).join(''));
    return 2;
  }

  // The output folder first: a path that cannot take files fails now, not after the run.
  let out: string;
  try {
    out = await checkOutDir('--out', flags['out']!);
  } catch (e) {
    if (!(e instanceof OutDirError)) throw e;
    process.stderr.write(`train: ${e.message}\n`);
    return 1;
  }
  let dataSha256: string;
  let data: CliData;
  try {
    data = await openCliData(flags['data']!, flags[HUB_ENDPOINT_FLAG], 'train');
  } catch (e) {
    process.stderr.write(`train: --data ${flags['data']}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    dataSha256 = await data.sha256();
  } catch (e) {
    process.stderr.write(`train: --data ${flags['data']}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
    return 1;
  }
  if (saved && saved.dataSha256 !== dataSha256) {
    process.stderr.write(`train: --resume ${resumeDir}: ${flags['data']} changed since the checkpoint was written (sha256 ${dataSha256}, was ${saved.dataSha256}); the run cannot continue with the same batches\n`);
    return 1;
  }
  // Before the GPU: the settings the checkpoint fixes and the model it trained.
  const given = parseArgs(argv, VALUE_FLAGS);
  if (saved) {
    const savedFlags = parseArgs(saved.args, VALUE_FLAGS);
    // Only the flags given now are named (--rank 8 alone also changes the default alpha).
    const conflicts = fixedSettingChanges(parseRunFlags(savedFlags.flags, savedFlags.bools, [], 'format'), runFlags).flatMap(({ flag, was }) => {
      const name = flag === 'data-format' ? 'format' : flag;
      const asGiven = given.flags[name] !== undefined ? `--${name} ${given.flags[name]}` : given.bools.has(name) ? `--${name}` : null;
      return asGiven ? [`train: ${asGiven} differs from --resume ${resumeDir}: the checkpoint was trained with ${was}, which its adapter, AdamW moments and the order of the steps done hold to; leave --${name} out\n`] : [];
    });
    if (conflicts.length) {
      process.stderr.write(conflicts.join(''));
      return 1;
    }
  }
  let model: ModelFingerprint;
  try {
    model = await modelFingerprint(flags['model']!);
  } catch (e) {
    process.stderr.write(`train: --model ${flags['model']}: cannot read the model (${(e as Error).message})\n`);
    return 1;
  }
  const changed = saved?.model ? fingerprintDifference(saved.model, model) : null;
  if (changed) {
    const which = given.flags['model'] !== undefined ? `--model ${given.flags['model']}` : `the model folder ${flags['model']}`;
    process.stderr.write(`train: ${which} is not the model --resume ${resumeDir} was trained on: ${changed}\n`);
    return 1;
  }
  const savedArgs = runArgs(args, flags);

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
  const tok = await loadModelTokenizer(modelDir);
  // SFT examples, or preference pairs (DPO, IPO, ORPO): the method and the file must agree.
  const preference = isPreference(hyper.method);
  const dataFile = flags['data']!;
  const mismatch = methodDataProblem(hyper.method, await isPreferenceFile(data.open()), 'cli', dataFile);
  if (mismatch) {
    process.stderr.write(`train: ${mismatch}\n`);
    return 1;
  }
  let prepared: { stats: unknown; warnings: string[] };
  let items: PlanItems;
  try {
    if (preference) {
      const p = await preparePreferenceDataset(data.open(), tok, { fileName: dataFile, maxLength, maxPromptLength, skipInvalid });
      [prepared, items] = [p, planItems(p.pairs)];
    } else {
      const p = await prepareDataset(data.open(), tok, {
        fileName: dataFile,
        format: format === 'auto' ? undefined : format,
        maxLength,
        skipInvalid,
      });
      [prepared, items] = [p, tableItems(p.examples)];
    }
  } catch (e) {
    if (e instanceof DatasetError) {
      process.stderr.write(`train: ${e.message}\n${formatIssues(e.issues, e.issueCount).map((l) => `${l}\n`).join('')}`);
      return 1;
    }
    throw e;
  }
  for (const w of prepared.warnings) process.stderr.write(`warning: ${w}\n`);
  const { train, validation } = holdOut(items, heldOutCount(items.length, valFraction), hyper.seed);
  // The same batcher as the studio's worker: step k's micro-batches are a pure function of k.
  const plan = new TrainingPlan(train, { batchSize, gradAccum: hyper.gradAccum, padId: tok.padId, seed: hyper.seed, maxSteps: maxStepsFlag, epochs, maxLength, packing });
  hyper.maxSteps = plan.totalSteps;
  const valBatches = plan.batchesOf(validation);
  const maxSeq = valBatches.reduce((m, b) => Math.max(m, b.T), plan.maxSeq);

  // Damaged (NaN, Inf) base weights are refused before the GPU: the weight source checks every part
  // it decodes, so one read-through names the tensor and file. (Refused midway through the GPU
  // upload instead, Dawn kept the process from exiting.)
  try {
    for (const name of weights.tensors.keys()) await weights.forEachPart(name, () => {});
  } catch (e) {
    if (!(e instanceof ModelWeightsError)) throw e;
    process.stderr.write(`train: --model ${e.message}\n`);
    return 1;
  }
  const gpu = await createNodeGpu();
  const control = new RunControl();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    control.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let trainer: Trainer | null = null;
  try {
    // A preference micro-batch of batchSize pairs holds twice as many rows.
    trainer = await Trainer.create(gpu, { spec, weights }, lora, hyper, { maxBatch: preference ? 2 * batchSize : batchSize, maxSeq, quant: quant as BaseQuant, initAdapter: start?.tensors });
    const t = trainer;
    const startStep = saved ? saved.state.step : 0;
    if (saved) t.loadState(saved.state);
    const started = performance.now();
    const losses: number[] = [];
    const metrics: Array<Record<string, number | undefined>> = [];
    const valLosses: Array<{ step: number; loss: number }> = [];
    let checkpointStep: number | null = null;
    let tokens = 0;
    const loop = runLoop(
      { step: (micro) => t.trainStep(micro), evalLoss: (b) => t.evalLoss(b), ...(preference ? { evaluate: (b: Batch) => t.evaluate(b) } : {}) },
      plan,
      valBatches,
      { maxSteps: plan.totalSteps, evalEvery, checkpointEvery, startStep },
      control,
      {
        onStep: (m, epoch) => {
          tokens += m.tokens;
          losses.push(m.loss);
          if (m.metrics) metrics.push(m.metrics);
          const shown = m.metrics ? Object.entries(m.metrics).map(([k, v]) => ` ${k} ${v?.toFixed(4)}`).join('') : '';
          process.stderr.write(
            `step ${m.step}/${plan.totalSteps} epoch ${epoch + 1} loss ${m.loss.toFixed(4)}${shown} grad_norm ${m.gradNorm?.toFixed(4)} lr ${m.lr.toExponential(3)} tok/s ${m.tokensPerSec.toFixed(1)}\n`,
          );
          if (stopAfter !== null && m.step - startStep >= stopAfter) control.stop();
        },
        onEval: (step, loss, metrics) => {
          valLosses.push({ step, loss, ...(metrics ? { metrics } : {}) });
          const shown = metrics ? Object.entries(metrics).map(([k, v]) => ` val ${k} ${v.toFixed(4)}`).join('') : '';
          process.stderr.write(`step ${step} val_loss ${loss.toFixed(4)}${shown}\n`);
        },
        checkpoint: async (step) => {
          await saveTrainState(out, { state: await t.saveState(), args: savedArgs, dataSha256, model });
          checkpointStep = step;
        },
      },
    );
    let result;
    try {
      result = await loop;
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      const kept = checkpointStep !== null ? ` The state of step ${checkpointStep} is checkpointed in ${out}/${TRAIN_STATE_FILE} (continue with train --resume ${out} --lr LOWER).` : '';
      process.stderr.write(`train: ${e.message} (flags: --lr, --max-grad-norm) The adapter in ${out} was not written.${kept}\n`);
      return 1;
    }
    const tensors = await t.exportAdapter();
    const { config, safetensors } = writeAdapter(spec, lora, tensors, start?.baseModel ?? null);
    await writeAdapterPair(out, config, safetensors);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `${JSON.stringify({
        out,
        end: result.end,
        start_step: startStep,
        steps: result.steps,
        total_steps: plan.totalSteps,
        examples: { train: train.length, validation: validation.length },
        first_loss: losses[0],
        final_loss: losses[losses.length - 1],
        losses,
        method: hyper.method,
        ...(preference ? { beta: hyper.beta, metrics } : {}),
        val_losses: valLosses,
        tokens,
        seconds: Math.round(seconds * 100) / 100,
        tokens_per_s: Math.round((tokens / seconds) * 10) / 10,
        stats: prepared.stats,
      })}\n`,
    );
    return interrupted ? 130 : 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    trainer?.destroy();
    gpu.destroy();
  }
}
