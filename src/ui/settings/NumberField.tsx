import { FIELDS, type NumberField as Field } from '../../state/settings';
import { useStudio } from '../../state/store';
import { NumberInput } from '../common/NumberInput';

/** A labelled number input bound to one settings field, with its tooltip and its error. */
export function NumberField({ field, error, disabled }: { field: Field; error?: string; disabled?: boolean }) {
  const info = FIELDS[field];
  const value = useStudio((s) => s.settings.numbers[field]);
  const setNumber = useStudio((s) => s.setNumber);
  return (
    <NumberInput
      id={`set-${field}`}
      label={info.label}
      hint={info.hint}
      value={value}
      onChange={(v) => setNumber(field, v)}
      step={info.step}
      min={info.min}
      max={info.max}
      inputMode={info.int ? 'numeric' : 'decimal'}
      placeholder={info.optional ? 'optional' : undefined}
      error={error}
      disabled={disabled}
    />
  );
}
