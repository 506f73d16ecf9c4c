import type { ReactNode } from 'react';
import { Hint } from '../common/Hint';

/** A labelled checkbox with its tooltip (`${id}-hint`); what follows the tooltip comes as children. */
export function SwitchField({
  id,
  label,
  hint,
  checked,
  disabled,
  onChange,
  children,
}: {
  id: string;
  label: string;
  hint: string;
  checked: boolean;
  disabled?: boolean;
  onChange: (checked: boolean) => void;
  children?: ReactNode;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>
        <input id={id} type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} aria-describedby={`${id}-hint`} />
        {label}
      </label>
      <Hint id={`${id}-hint`} text={hint} />
      {children}
    </div>
  );
}
