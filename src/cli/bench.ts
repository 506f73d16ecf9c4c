// bench --matmul M N K [--quant none|int8|int4] [--reps R] [--tile auto|64|128]: one frozen-linear
// kernel, GFLOP/s (auto = the tile training would use for this shape).
// bench --model smollm2-135m|qwen2.5-0.5b|qwen3-0.6b|llama-3.2-1b|phi-4-mini|tiny [--layers N] --batch B --seq T
//       --rank R [--quant none] [--checkpointing] --steps N [--json]
// Full training steps (forward, backward, clipping, AdamW) on random weights of the real shapes,
// LoRA on all seven projections. Prints one JSON line; the median step time is reported.
// --steps 0 is memory only: the trainer is built and the step's programs recorded, nothing runs;
// gpu_bytes is the peak the run would hold, step_ms/first_step_ms/tokens_per_s are null.
// --policy name=value,… overrides the kernels' work-distribution thresholds (src/engine/kernels/
// policy.ts: the 128-tile and split-K choices) for this run, to sweep them on a GPU; the JSON then
// carries the policy in force.
// --compile-first-use compiles each pipeline when the first step first runs it, one by one, instead
// of all in parallel while the weights upload (the default): compile_ms, setup_ms and first_step_ms
// then compare the two.
// --no-subgroups runs the reducing kernels in their portable tree form even where subgroups are wide
// enough for the subgroup form, to compare the two.
// bench --model MODEL_DIR --data FILE --batch B --seq T --rank R --steps N [--packing] [--quant …] [--json]
// The same steps on a model folder's weights and the batches a run would train on (bench-data.ts:
// the file prepared with the folder's tokenizer and chat template, batched by TrainingPlan, packed
// with --packing); adds real_tokens, padded_tokens (the batches' B × T slots), real_token_fraction
// and real_tokens_per_s. --vs-padded (with --packing) also times the same data padded, its steps
// interleaved with the packed run's on one trainer: padded_run holds its figures and
// packing_speedup the ratio of real tokens per second, both from this one invocation.
// bench --generate [--model M] [--layers N] [--quant none|int8|int4] [--rank R] [--prompt P] [--tokens N] [--compile-first-use]
// Greedy generation as "Try it" runs it (random weights, LoRA on all seven projections): prefill of
// a P-token prompt, then N decode steps; prints the median ms per new token and first_token_ms
// (decoder setup, its pipelines compiled in parallel unless --compile-first-use, and the prefill).
// The benchmarks themselves live in src/engine/bench (the bench page runs the training and matmul ones).
import { createNodeGpu } from '../gpu/node';
import { parseCommandLine } from './args';
import { BenchFieldError, cliLabel, intField, quantField } from '../engine/bench/fields';
import { runLimitError } from '../io/untrusted/limits';
import { runMatmulBench, tileField } from '../engine/bench/matmul-bench';
import { parseTrainBenchOptions, runTrainBench } from '../engine/bench/train-bench';
import { loadBenchData } from './bench-data';
import { parseGenerateBenchOptions, runGenerateBench } from '../engine/bench/generate-bench';
import { kernelPolicy, parseKernelPolicy, setKernelPolicy } from '../engine/kernels/policy';

export async function run(args: string[]): Promise<number> {
  const { flags, bools, positional } = parseCommandLine('bench', args, {
    values: ['model', 'layers', 'batch', 'seq', 'rank', 'quant', 'steps', 'reps', 'tile', 'prompt', 'tokens', 'policy', 'data'],
    // --json is accepted for the command line: every benchmark prints JSON
    bools: ['matmul', 'generate', 'checkpointing', 'no-subgroups', 'json', 'packing', 'vs-padded', 'compile-first-use'],
    positional: args.includes('--matmul') ? 3 : 0,
  });
  const subgroups = bools.has('no-subgroups') ? false : undefined;
  const policy = flags['policy'] === undefined ? null : parseKernelPolicy(flags['policy']);
  setKernelPolicy(policy);
  // The line a benchmark prints, with the policy when one was given.
  const print = (result: object): void => {
    process.stdout.write(`${JSON.stringify(policy ? { ...result, policy: { ...kernelPolicy } } : result)}\n`);
  };
  if (bools.has('matmul')) {
    const [M, N, K] = positional.map(Number);
    if (positional.length !== 3 || ![M, N, K].every((v) => Number.isInteger(v) && v > 0)) {
      throw new Error('usage: bench --matmul M N K [--quant none|int8|int4] [--reps R] [--tile auto|64|128]');
    }
    (['M', 'N', 'K'] as const).forEach((f, i) => {
      const over = runLimitError(f, [M, N, K][i]);
      if (over) throw new BenchFieldError(f, `--matmul ${f} ${over}`);
    });
    const quant = quantField(flags, 'quant', cliLabel);
    const reps = intField(flags, 'reps', 5, cliLabel);
    const tile = tileField(flags, 'tile', cliLabel);
    const gpu = await createNodeGpu({ subgroups });
    try {
      print(await runMatmulBench(gpu, M, N, K, quant, reps, tile));
    } finally {
      gpu.destroy();
    }
    return 0;
  }
  if (bools.has('generate')) {
    const opts = { ...parseGenerateBenchOptions(flags, cliLabel), compile: bools.has('compile-first-use') ? ('first-use' as const) : ('ahead' as const) };
    const gpu = await createNodeGpu({ optionalFeatures: ['timestamp-query'], subgroups });
    try {
      print(await runGenerateBench(gpu, opts));
    } finally {
      gpu.destroy();
    }
    return 0;
  }
  const dataFile = flags['data'];
  if (dataFile === undefined && bools.has('packing')) throw new BenchFieldError('packing', '--packing needs --data FILE (a preset --model trains on random batches)');
  if (bools.has('vs-padded') && !bools.has('packing')) throw new BenchFieldError('vs-padded', '--vs-padded compares a packed run with the padded one: it needs --packing (and --data FILE)');
  if (dataFile !== undefined && flags['layers'] !== undefined) throw new BenchFieldError('layers', '--layers applies to a preset --model, not to a model folder with --data');
  if (dataFile !== undefined && flags['model'] === undefined) throw new BenchFieldError('model', '--data needs --model MODEL_DIR (a model folder with its tokenizer)');
  // With --data, --model is a folder: the other options are parsed as for a preset.
  const parsed = dataFile === undefined ? parseTrainBenchOptions(flags, bools.has('checkpointing'), cliLabel) : { ...parseTrainBenchOptions({ ...flags, model: 'tiny' }, bools.has('checkpointing'), cliLabel), model: flags['model']! };
  const opts = { ...parsed, compile: bools.has('compile-first-use') ? ('first-use' as const) : ('ahead' as const) };
  const data = dataFile === undefined ? undefined : await loadBenchData(opts.model, dataFile, opts.batch, opts.seq, bools.has('packing'), bools.has('vs-padded'));
  const gpu = await createNodeGpu({ optionalFeatures: ['timestamp-query'], subgroups }, []);
  try {
    print(await runTrainBench(gpu, opts, {}, data));
    return 0;
  } finally {
    gpu.destroy();
  }
}
