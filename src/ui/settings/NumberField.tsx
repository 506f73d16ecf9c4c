import { FIELDS, type NumberField as Field } from '../../state/settings';
import { useStudio } from '../../state/store';
import { Hint } from '../common/Hint';

/** A labelled number input bound to one settings field, with its tooltip and its error. */
export function NumberField({ field, error, disabled }: { field: Field; error?: string; disabled?: boolean }) {
  const info = FIELDS[field];
  const value = useStudio((s) => s.settings.numbers[field]);
  const setNumber = useStudio((s) => s.setNumber);
  const id = `set-${field}`;
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{info.label}</label>
      <Hint id={`${id}-hint`} text={info.hint} />
      <input
        id={id}
        type="number"
        inputMode={info.int ? 'numeric' : 'decimal'}
        step={info.step}
        min={info.min}
        max={info.max}
        placeholder={info.optional ? 'optional' : undefined}
        value={value}
        disabled={disabled}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint${error ? ` ${id}-error` : ''}`}
        onChange={(e) => setNumber(field, e.target.value)}
      />
      {error ? (
        <span className="field-error" id={`${id}-error`}>
          {error}
        </span>
      ) : null}
    </div>
  );
}
