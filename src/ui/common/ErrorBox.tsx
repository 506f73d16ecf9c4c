import type { ErrorInfo } from '../../worker/protocol';

/** An engine or validation error, with its typed name for the curious. */
export function ErrorBox({ error, title }: { error: ErrorInfo | null; title?: string }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {error.message} <span className="error-name">({error.name})</span>
    </div>
  );
}
