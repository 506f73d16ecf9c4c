// "Push to the Hub" in Export: the repository name (under the token's account), a write token kept
// in this component's memory only, private by default; progress per file, Cancel, and Retry after
// a failure (what the Hub already holds is not sent again).
import { useState } from 'react';
import type { PushErrorKind, FileState } from '../../hub/push';
import { hubChoice } from '../../state/hub-choice';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { formatBytes } from '../common/format';

const ERROR_TITLES: Record<PushErrorKind, string> = {
  token: 'Access token refused',
  'not-yours': 'Not your repository',
  name: 'Repository name refused',
  quota: 'Hub storage quota',
  connection: 'Connection dropped',
  cancelled: 'Push cancelled',
  hub: 'Push failed',
};

const STEP_TEXT = {
  account: 'Checking the token…',
  repository: 'Creating the repository…',
  preuploading: 'Preparing the upload…',
  uploadingLargeFiles: 'Uploading the large files…',
  committing: 'Committing…',
} as const;

function fileText(f: FileState): string {
  if (f.state === 'hashing') return `hashing ${Math.round(f.fraction * 100)}%`;
  if (f.state === 'uploading') return `uploading ${Math.round(f.fraction * 100)}%`;
  if (f.state === 'uploaded') return 'uploaded';
  if (f.state === 'already') return 'already on the Hub, not sent again';
  if (f.state === 'committed') return 'committed';
  return 'waiting';
}

export function HubPush({ trained }: { trained: boolean }) {
  const push = useStudio((s) => s.hubPush);
  const start = useStudio((s) => s.pushToHub);
  const cancel = useStudio((s) => s.cancelPush);
  const [repo, setRepo] = useState('');
  const [token, setToken] = useState('');
  const [isPrivate, setPrivate] = useState(true);
  const pushing = push.status === 'pushing';
  const host = hubChoice().hub.host;
  const ready = trained && !pushing && repo.trim() !== '' && token.trim() !== '';
  const go = () => void start({ repo: repo.trim(), token: token.trim(), private: isPrivate });

  return (
    <div className="hub-push">
      <h3>Push to the Hub</h3>
      <p className="muted">
        Commits <code>adapter_model.safetensors</code>, <code>adapter_config.json</code> and the <code>README.md</code> model card to a model repository on {host}{' '}
        under your account (or <code>organization/name</code>). The token needs write access; it is used for this push only and never stored.
      </p>
      {push.extras.length ? (
        <p className="muted" data-testid="push-extras">
          Also pushed: {push.extras.map((x) => `${x.folder}/ (${x.files} files, ${formatBytes(x.bytes)})`).join(', ')}, as built below.
        </p>
      ) : null}
      <div className="row">
        <label htmlFor="push-repo">Repository name</label>
        <input id="push-repo" type="text" placeholder="my-lora-adapter" value={repo} onChange={(e) => setRepo(e.target.value)} spellCheck={false} autoComplete="off" disabled={pushing} />
        <label>
          <input type="checkbox" checked={isPrivate} onChange={(e) => setPrivate(e.target.checked)} disabled={pushing} /> Private repository
        </label>
      </div>
      <div className="row">
        <label htmlFor="push-token">Hub write token</label>
        <input id="push-token" type="password" placeholder="hf_… (write)" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" disabled={pushing} />
      </div>
      <div className="row">
        <button type="button" onClick={go} disabled={!ready}>
          {push.status === 'error' ? 'Retry push' : 'Push to the Hub'}
        </button>
        {pushing ? (
          <button type="button" className="secondary" onClick={cancel}>
            Cancel push
          </button>
        ) : null}
        {!trained ? <span className="muted">Available after a run.</span> : null}
        {pushing && push.progress ? <span className="muted">{STEP_TEXT[push.progress.step]}</span> : null}
      </div>
      {push.progress ? (
        <ul aria-label="Push progress" className="library-list">
          {Object.entries(push.progress.files).map(([path, f]) => (
            <li key={path}>
              <code>{path}</code> <span className="muted">{fileText(f)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {push.status === 'done' && push.result ? (
        <p role="status" className="ok" data-testid="push-done">
          Pushed to{' '}
          <a href={push.result.repoUrl} target="_blank" rel="noreferrer">
            {push.result.repoId}
          </a>{' '}
          ({push.result.created ? 'new repository' : 'existing repository, new commit'}).
        </p>
      ) : null}
      <ErrorBox error={push.error} title={push.error?.kind ? ERROR_TITLES[push.error.kind] : 'Push failed'} />
    </div>
  );
}
