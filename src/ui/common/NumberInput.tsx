import { Hint } from './Hint';

/**
 * A labelled number input with its tooltip (`${id}-hint`) and its error (`${id}-error`, marked
 * aria-invalid): the one form every number field on the page takes.
 */
export function NumberInput({
  id,
  label,
  hint,
  value,
  onChange,
  step,
  min,
  max,
  inputMode,
  placeholder,
  error,
  disabled,
}: {
  id: string;
  label: string;
  hint: string;
  value: string;
  onChange: (value: string) => void;
  step?: string;
  min?: number;
  max?: number;
  inputMode?: 'numeric' | 'decimal';
  placeholder?: string;
  error?: string;
  disabled?: boolean;
}) {
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      <Hint id={`${id}-hint`} text={hint} />
      <input
        id={id}
        type="number"
        inputMode={inputMode}
        step={step}
        min={min}
        max={max}
        placeholder={placeholder}
        value={value}
        disabled={disabled}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint${error ? ` ${id}-error` : ''}`}
        onChange={(e) => onChange(e.target.value)}
      />
      {error ? (
        <span className="field-error" id={`${id}-error`}>
          {error}
        </span>
      ) : null}
    </div>
  );
}
