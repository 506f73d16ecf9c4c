import { useEffect, useState } from 'react';
import { FIELDS } from '../../state/settings';
import { validationCount, type DatasetReadOptions } from '../../state/slices/dataset';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { Hint } from '../common/Hint';
import { DatasetFileInput } from './DatasetFileInput';

const FORMATS: Array<[DatasetReadOptions['format'], string]> = [
  ['auto', 'Detect automatically'],
  ['messages', 'Chat messages (role/content)'],
  ['sharegpt', 'ShareGPT conversations (from/value)'],
  ['completion', 'Prompt and completion'],
  ['alpaca', 'Alpaca (instruction, input, output)'],
  ['text', 'Plain text'],
];

const HINTS = {
  format: 'How records are read. Detection looks at the first record’s fields; choose a format when your columns have other names, together with a column mapping.',
  mapping:
    'Your column names for the format’s fields, as field=column pairs separated by commas: prompt, completion, instruction, input, output, text, messages, conversations, role, content. Applied when the field loses focus or on Enter.',
  txtMode: '.txt files only: one example per line, or one per paragraph (paragraphs are separated by a blank line).',
  trainOn:
    'Off (default): the loss is computed on assistant turns (and completions) only, as transformers’ assistant_masks: prompts and role headers are masked. On: every token is trained.',
  maxLength: `Examples longer than this are cut (the counts below update). The same value as Settings › Max length. ${FIELDS.maxLength.hint}`,
  validation:
    'Examples the validation loss is measured on: none, a fraction held out of this file (at most a fifth; it sets Settings › Validation examples), or a second file read with the same options.',
  fraction: 'Share of the examples held out for validation, from 0 to 0.2.',
};

/** How the dataset file is read: format, column mapping, text mode, train on, max length, validation. */
export function DatasetOptions() {
  const options = useStudio((s) => s.dataset.options);
  const fileName = useStudio((s) => s.dataset.fileName);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const validationFileName = useStudio((s) => s.dataset.validationFileName);
  const validationDetails = useStudio((s) => s.dataset.details?.validation ?? null);
  const maxLength = useStudio((s) => s.settings.numbers.maxLength);
  const locked = useStudio((s) => isActive(s.training.status));
  const setOptions = useStudio((s) => s.setDatasetOptions);
  const setNumber = useStudio((s) => s.setNumber);
  const loadValidationFile = useStudio((s) => s.loadValidationFile);

  // Typed text, applied on blur / Enter (each application tokenizes the file again).
  const [mapping, setMapping] = useState(options.mapping);
  useEffect(() => setMapping(options.mapping), [options.mapping]);
  const applyMapping = () => {
    if (mapping.trim() !== options.mapping.trim()) void setOptions({ mapping: mapping.trim() });
  };
  const [fraction, setFraction] = useState(String(options.validation.fraction));
  useEffect(() => setFraction(String(options.validation.fraction)), [options.validation.fraction]);
  const fractionValue = Number(fraction);
  const fractionError = fraction.trim() === '' || !(fractionValue >= 0 && fractionValue <= 0.2) ? 'Validation fraction must be between 0 and 0.2' : null;

  const isTxt = fileName ? /\.txt$/i.test(fileName) : true;
  const mode = options.validation.mode;

  return (
    <fieldset className="dataset-options" disabled={locked}>
      <legend>Reading the file</legend>
      <div className="grid">
        <div className="field">
          <label htmlFor="dataset-format">Format</label>
          <Hint id="dataset-format-hint" text={HINTS.format} />
          <select
            id="dataset-format"
            value={options.format}
            aria-describedby="dataset-format-hint"
            onChange={(e) => void setOptions({ format: e.target.value as DatasetReadOptions['format'] })}
          >
            {FORMATS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="dataset-mapping">Column mapping</label>
          <Hint id="dataset-mapping-hint" text={HINTS.mapping} />
          <input
            id="dataset-mapping"
            type="text"
            className="mapping"
            placeholder="prompt=question, completion=answer"
            spellCheck={false}
            value={mapping}
            aria-describedby="dataset-mapping-hint"
            onChange={(e) => setMapping(e.target.value)}
            onBlur={applyMapping}
            onKeyDown={(e) => {
              if (e.key === 'Enter') applyMapping();
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="dataset-txt-mode">Text file mode</label>
          <Hint id="dataset-txt-mode-hint" text={HINTS.txtMode} />
          <select
            id="dataset-txt-mode"
            value={options.txtMode}
            aria-describedby="dataset-txt-mode-hint"
            disabled={!isTxt}
            onChange={(e) => void setOptions({ txtMode: e.target.value as DatasetReadOptions['txtMode'] })}
          >
            <option value="line">One example per line</option>
            <option value="paragraph">One example per paragraph</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="dataset-max-length">Truncate at (tokens)</label>
          <Hint id="dataset-max-length-hint" text={HINTS.maxLength} />
          <input
            id="dataset-max-length"
            type="number"
            inputMode="numeric"
            step={FIELDS.maxLength.step}
            min={FIELDS.maxLength.min}
            max={FIELDS.maxLength.max}
            value={maxLength}
            aria-describedby="dataset-max-length-hint"
            onChange={(e) => setNumber('maxLength', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="dataset-train-all">
            <input
              id="dataset-train-all"
              type="checkbox"
              checked={options.trainOn === 'all'}
              aria-describedby="dataset-train-all-hint"
              onChange={(e) => void setOptions({ trainOn: e.target.checked ? 'all' : 'assistant' })}
            />
            Train on all tokens
          </label>
          <Hint id="dataset-train-all-hint" text={HINTS.trainOn} />
        </div>
      </div>
      <div className="field validation" role="group" aria-labelledby="dataset-validation-label">
        <span id="dataset-validation-label" className="label">
          Validation split
        </span>
        <Hint id="dataset-validation-hint" text={HINTS.validation} />
        <div className="choices">
          {(
            [
              ['none', 'None'],
              ['fraction', 'Hold out a fraction'],
              ['file', 'Use a second file'],
            ] as const
          ).map(([value, label]) => (
            <label key={value}>
              <input type="radio" name="dataset-validation" value={value} checked={mode === value} onChange={() => void setOptions({ validation: { ...options.validation, mode: value } })} />
              {label}
            </label>
          ))}
        </div>
        {mode === 'fraction' ? (
          <div className="row">
            <label htmlFor="dataset-validation-fraction">Validation fraction</label>
            <input
              id="dataset-validation-fraction"
              type="number"
              step="0.01"
              min={0}
              max={0.2}
              value={fraction}
              aria-invalid={fractionError ? true : undefined}
              aria-describedby="dataset-validation-fraction-note"
              onChange={(e) => {
                setFraction(e.target.value);
                const v = Number(e.target.value);
                if (e.target.value.trim() !== '' && v >= 0 && v <= 0.2) void setOptions({ validation: { ...options.validation, fraction: v } });
              }}
            />
            <span id="dataset-validation-fraction-note" className={fractionError ? 'field-error' : 'muted'}>
              {fractionError ??
                (examples !== null
                  ? `${validationCount(options.validation.fraction, examples)} of ${examples} examples held out (Settings › Validation examples)`
                  : 'applies once the dataset is loaded')}
            </span>
          </div>
        ) : null}
        {mode === 'file' ? (
          <div className="row">
            <label htmlFor="dataset-validation-file">Validation file</label>
            <DatasetFileInput id="dataset-validation-file" onFile={(f) => void loadValidationFile(f)} />
            {validationFileName ? (
              <span className="muted" data-testid="validation-file-summary">
                {validationDetails
                  ? `${validationDetails.fileName}: ${validationDetails.examples} examples, ${validationDetails.tokens} tokens (${validationDetails.trainedTokens} trained)${
                      validationDetails.skippedTotal ? `, ${validationDetails.skippedTotal} bad lines skipped` : ''
                    }`
                  : `${validationFileName} (read with the dataset)`}
              </span>
            ) : (
              <span className="muted">read with the same options as the dataset</span>
            )}
          </div>
        ) : null}
      </div>
    </fieldset>
  );
}
