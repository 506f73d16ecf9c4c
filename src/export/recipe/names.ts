/** The studio's "Continue on a cluster" download (its files sit in a folder of the same name). */
export const RECIPE_ZIP_NAME = 'lora-studio-cluster-job.zip';
/** A continued run's AdamW state beside adapter_init's weights (train.py's load_optimizer_state reads it). */
export const OPTIMIZER_FILE = 'adapter_init/optimizer.safetensors';
/** Suffixes of the moments of PEFT tensor K in OPTIMIZER_FILE: `K.exp_avg`, `K.exp_avg_sq` (torch.optim.AdamW's state keys). */
export const MOMENT_SUFFIXES = ['exp_avg', 'exp_avg_sq'] as const;
