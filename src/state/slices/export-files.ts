// What the export slice, the push slice and Past runs share: the adapter's .zip (its two files and
// the model card), the card's input from the store, and saving a file from the page. A leaf module:
// it imports no slice.
import type { AdapterFiles } from '../../worker/protocol';
import { zipStore } from '../../util/zip';
import { runMetrics } from '../metrics';
import { datasetFileBytes } from './dataset-files';
import { modelCard, type ModelCardInput } from './export-card';
import type { StudioState } from '../store';
import { maxValidationExamples } from '../../settings/run-settings';

/** The .zip's file name. */
export const ZIP_NAME = 'lora-adapter.zip';

export function saveFile(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** What the model card says, from the store: the run's settings and result, the model, the data. */
export function cardInput(s: StudioState, date: Date): ModelCardInput | null {
  const settings = s.training.settings;
  const model = s.model.summary;
  if (!settings || !model) return null;
  const sum = s.dataset.summary;
  const det = s.dataset.details;
  let dataset: ModelCardInput['dataset'] = null;
  if (sum) {
    let truncated: number | undefined;
    if (det) {
      truncated = 0;
      for (let i = 0; i < det.lengths.length; i++) if (det.lengths[i] > settings.maxLength) truncated++;
    }
    // A validation file counts only if the run measured a validation loss (the worker used it).
    const file = s.dataset.options.validation.mode === 'file' && det?.validation && s.training.result?.finalValLoss != null ? det.validation : null;
    const split = Math.min(settings.validationExamples, maxValidationExamples(sum.examples));
    dataset = {
      fileName: sum.fileName,
      fileBytes: datasetFileBytes() ?? undefined,
      hub: s.dataset.hub,
      format: sum.format,
      examples: sum.examples,
      tokens: sum.tokens,
      trainedTokens: sum.trainedTokens,
      truncated,
      trainOn: det?.trainOn ?? 'assistant',
      validation: file ? { examples: file.examples, source: 'file', fileName: file.fileName } : split > 0 ? { examples: split, source: 'split' } : null,
    };
  }
  const losses = runMetrics.steps.map((step, i) => ({ step, loss: runMetrics.loss[i], val: runMetrics.val[i] }));
  return { model, settings, dataset, result: s.training.result, losses, date };
}

/** The adapter's .zip: its two files and a README.md model card. */
export function adapterZip(f: AdapterFiles, card: ModelCardInput): Uint8Array<ArrayBuffer> {
  return zipStore(
    [
      { name: 'adapter_model.safetensors', data: new Uint8Array(f.safetensors) },
      { name: 'adapter_config.json', data: f.config },
      { name: 'README.md', data: modelCard(card) },
    ],
    card.date,
  );
}
