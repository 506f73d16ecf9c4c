import { hubChoice } from '../../state/hub-choice';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';

/**
 * Says where Hub downloads go when the page address names another Hub (`?hub=`), and asks before
 * the access token may go there; a refused `?hub=` is shown with its reason.
 */
export function HubNotice() {
  const tokenOrigin = useStudio((s) => s.model.tokenOrigin);
  const confirmHubToken = useStudio((s) => s.confirmHubToken);
  const { hub, refused } = hubChoice();
  if (refused) return <ErrorBox error={{ name: 'HubEndpointError', message: `${refused} Downloads use ${hub.host}.` }} title="Hub address refused" />;
  if (!hub.override) return null;
  return (
    <div className="notice" role="note" aria-label="Hub override" data-testid="hub-override">
      <p>
        Models download from <strong>{hub.host}</strong> ({hub.url}), set by <code>?hub=</code> in the page address, not from this
        studio&apos;s Hub. Your access token is not sent to {hub.host} unless you allow it here.
      </p>
      <label>
        <input type="checkbox" checked={tokenOrigin === hub.origin} onChange={(e) => confirmHubToken(e.target.checked ? hub.origin : null)} /> Send my token to{' '}
        {hub.host}
      </label>
    </div>
  );
}
