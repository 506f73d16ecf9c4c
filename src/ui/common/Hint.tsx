// A short tooltip: a focusable "?" that shows its text on hover or focus, and describes the field
// it belongs to (aria-describedby points at the same text), so the field's name stays exact.
export function Hint({ id, text }: { id: string; text: string }) {
  return (
    <span className="hint">
      <button type="button" className="hint-icon" aria-label="Help" aria-describedby={id} tabIndex={0}>
        ?
      </button>
      <span role="tooltip" id={id} className="hint-text">
        {text}
      </span>
    </span>
  );
}
