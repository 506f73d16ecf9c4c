import { useMemo } from 'react';
import { PROJECTIONS, type Projection } from '../../engine/model/spec';
import { METHODS, type Schedule } from '../../engine/train/types';
import { METHOD_INFO } from '../../settings/run-settings';
import { OTHER_HINTS, isPreferenceForm, preferenceDataOf, methodOf, packingOf, plannedSteps, rowsPerEpoch, validateSettings, type TargetPreset } from '../../state/settings';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { Hint } from '../common/Hint';
import { Section } from '../common/Section';
import { MemoryEstimateView } from './MemoryEstimateView';
import { NumberField } from './NumberField';
import { StartAdapterField } from './StartAdapterField';
import { SwitchField } from './SwitchField';

const PRESETS: Array<[TargetPreset, string]> = [
  ['attention', 'Attention'],
  ['mlp', 'MLP'],
  ['all', 'All'],
  ['custom', 'Custom'],
];

export function SettingsPanel() {
  const settings = useStudio((s) => s.settings);
  const model = useStudio((s) => s.model.summary);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const preferenceData = useStudio((s) => preferenceDataOf(s.dataset.summary));
  const show = useStudio((s) => s.showSettingsErrors);
  const locked = useStudio((s) => isActive(s.training.status));
  const update = useStudio((s) => s.updateSettings);
  const reset = useStudio((s) => s.resetSettings);
  // A chosen start adapter decides rank, alpha, rsLoRA and targets: their fields only show them.
  const fromAdapter = settings.startAdapter !== null;
  const errors = useMemo(() => validateSettings(settings, { model, examples, preferenceData }), [settings, model, examples, preferenceData]);
  const method = methodOf(settings);
  const preference = isPreferenceForm(settings);
  const shown = show ? errors : {};
  const messages = Object.values(shown);
  const lengths = useStudio((s) => s.dataset.details?.lengths ?? null);
  const steps = plannedSteps(settings, examples, lengths);
  const packing = packingOf(settings, lengths);
  const rows = rowsPerEpoch(settings, examples, lengths);

  const toggleTarget = (p: Projection, on: boolean) =>
    update({ customTargets: on ? [...settings.customTargets, p] : settings.customTargets.filter((t) => t !== p) });

  return (
    <Section
      id="settings"
      step={3}
      title="Settings"
      aside={
        <button type="button" className="link" onClick={reset} disabled={locked}>
          Reset to defaults
        </button>
      }
    >
      {messages.length > 0 ? (
        <div className="error" role="alert" aria-label="Settings errors">
          <strong>
            Fix {messages.length} setting{messages.length === 1 ? '' : 's'} before training:
          </strong>
          <ul>
            {messages.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <fieldset disabled={locked}>
        <legend>Method</legend>
        <div className={shown.method ? 'field invalid' : 'field'} role="radiogroup" aria-labelledby="method-label" aria-describedby="method-hint">
          <span id="method-label" className="label">
            Method
          </span>
          <Hint id="method-hint" text={OTHER_HINTS.method} />
          <div className="method-choices">
            {METHODS.map((m) => (
              <label key={m} className="method-choice">
                <input type="radio" name="method" value={m} checked={method === m} onChange={() => update({ method: m })} />
                <strong>{METHOD_INFO[m].label}</strong> <span className="muted">{METHOD_INFO[m].line}</span>
              </label>
            ))}
          </div>
          {shown.method ? <span className="field-error">{shown.method}</span> : null}
        </div>
        {preference ? (
          <div className="grid">
            <NumberField field="beta" error={shown.beta} />
            <NumberField field="maxPromptLength" error={shown.maxPromptLength} />
          </div>
        ) : null}
      </fieldset>
      <fieldset disabled={locked}>
        <legend>LoRA</legend>
        <StartAdapterField locked={locked} />
        <div className="grid">
          <NumberField field="loraRank" error={shown.loraRank} disabled={fromAdapter} />
          <NumberField field="loraAlpha" error={shown.loraAlpha} disabled={fromAdapter} />
          <NumberField field="loraDropout" error={shown.loraDropout} />
          <SwitchField id="set-rslora" label="rsLoRA" hint={OTHER_HINTS.rslora} checked={settings.rslora} disabled={fromAdapter} onChange={(on) => update({ rslora: on })} />
        </div>
        <fieldset className="plain" disabled={fromAdapter}>
          <div className={shown.targets ? 'field invalid' : 'field'} role="group" aria-labelledby="targets-label">
            <span id="targets-label" className="label">
              Target modules
            </span>
            <Hint id="targets-hint" text={OTHER_HINTS.targets} />
            <div className="choices">
              {PRESETS.map(([value, label]) => (
                <label key={value}>
                  <input type="radio" name="targets" value={value} checked={settings.targetPreset === value} onChange={() => update({ targetPreset: value })} />
                  {label}
                </label>
              ))}
            </div>
            {settings.targetPreset === 'custom' ? (
              <div className="choices">
                {PROJECTIONS.map((p) => (
                  <label key={p}>
                    <input type="checkbox" checked={settings.customTargets.includes(p)} onChange={(e) => toggleTarget(p, e.target.checked)} />
                    {p}
                  </label>
                ))}
              </div>
            ) : null}
            {shown.targets ? <span className="field-error">{shown.targets}</span> : null}
          </div>
        </fieldset>
      </fieldset>
      <fieldset disabled={locked}>
        <legend>Optimization</legend>
        <div className="grid">
          <NumberField field="learningRate" error={shown.learningRate} />
          <div className="field">
            <label htmlFor="set-schedule">Schedule</label>
            <Hint id="set-schedule-hint" text={OTHER_HINTS.schedule} />
            <select id="set-schedule" value={settings.schedule} onChange={(e) => update({ schedule: e.target.value as Schedule })} aria-describedby="set-schedule-hint">
              <option value="constant">constant</option>
              <option value="linear">linear</option>
              <option value="cosine">cosine</option>
            </select>
          </div>
          <NumberField field="warmupSteps" error={shown.warmupSteps} />
          <NumberField field="maxSteps" error={shown.maxSteps} />
          <NumberField field="epochs" error={shown.epochs} />
          <NumberField field="batchSize" error={shown.batchSize} />
          <NumberField field="gradAccum" error={shown.gradAccum} />
          <NumberField field="maxLength" error={shown.maxLength} />
          <SwitchField id="set-packing" label="Packing" hint={OTHER_HINTS.packing} checked={packing} disabled={preference} onChange={(on) => update({ packing: on })}>
            {preference ? <span className="muted"> (off: each sequence of a pair takes its own row)</span> : settings.packing === null ? <span className="muted"> (automatic)</span> : null}
          </SwitchField>
          <NumberField field="weightDecay" error={shown.weightDecay} />
          <NumberField field="maxGradNorm" error={shown.maxGradNorm} />
          <NumberField field="seed" error={shown.seed} />
          <NumberField field="validationExamples" error={shown.validationExamples} />
          <NumberField field="checkpointEvery" error={shown.checkpointEvery} />
        </div>
        {Number.isFinite(steps) && examples ? (
          <p className="muted">
            {steps} optimizer steps over {examples} {preference ? 'pairs' : 'examples'}{packing && rows ? ` packed into ${rows} rows of ${settings.numbers.maxLength} tokens` : ''} (
            {((steps * Number(settings.numbers.batchSize) * Number(settings.numbers.gradAccum)) / (rows || examples)).toFixed(1)} epochs).
          </p>
        ) : null}
      </fieldset>
      <fieldset disabled={locked}>
        <legend>Memory</legend>
        <div className="grid">
          <SwitchField
            id="set-checkpointing"
            label="Gradient checkpointing"
            hint={OTHER_HINTS.checkpointing}
            checked={settings.checkpointing}
            onChange={(on) => update({ checkpointing: on })}
          />
        </div>
        <MemoryEstimateView valid={Object.keys(errors).length === 0} />
      </fieldset>
    </Section>
  );
}
