// "Push to the Hub": the account of the token (whoAmI), the repository created under it
// (createRepo; one that exists and is the user's is reused), and one commit of the files
// (commitIter: preupload says which files go through LFS, the LFS batch says which objects the
// Hub still lacks, only those are uploaded, then the commit). A retry after a dropped connection
// runs the same steps with the same bytes: what the Hub already holds is not sent again.
// Every request goes through guardedFetch (endpoint.ts's token rule). No React, no store.
import { commitIter, createRepo, HubApiError, whoAmI, type CommitOperation } from '@huggingface/hub';
import { mayReceiveToken } from './endpoint';
import { guardedFetch, HubTokenRefusedError } from './hub-fetch';

/** What went wrong, for the page to name it and say what to do. */
export type PushErrorKind = 'token' | 'not-yours' | 'name' | 'quota' | 'connection' | 'cancelled' | 'hub';

export class HubPushError extends Error {
  override name = 'HubPushError';
  constructor(
    readonly kind: PushErrorKind,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface PushFile {
  path: string;
  content: Blob;
}

export type PushStep = 'account' | 'repository' | 'preuploading' | 'uploadingLargeFiles' | 'committing';

/** One file's state: `already` when the Hub had its bytes (LFS batch), so it was not uploaded again. */
export type FileState = { state: 'waiting' | 'hashing' | 'uploading' | 'uploaded' | 'already' | 'committed'; fraction: number };

export interface PushProgress {
  step: PushStep;
  files: Record<string, FileState>;
}

export interface PushOptions {
  hubUrl: string;
  token: string;
  trusted: readonly string[];
  /** "name" (under the token's user) or "namespace/name". */
  repo: string;
  private: boolean;
  /** The files, given the repository's id ("owner/name": the owner is known once whoami answers; the model card names it). */
  files(repoId: string): PushFile[];
  commitTitle: string;
  signal: AbortSignal;
  onProgress(p: PushProgress): void;
}

export interface PushResult {
  repoId: string;
  repoUrl: string;
  commitUrl: string;
  /** Whether this push created the repository (false: it existed and was the user's). */
  created: boolean;
}

/** The Hub's rule for a repository name, checked before asking it (it refuses the same names). */
export function repoNameProblem(name: string): string | null {
  if (name.length === 0) return 'a repository name is required';
  if (name.length > 96) return `"${name.slice(0, 100)}" is longer than 96 characters`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return `"${name}" may hold only letters, digits, "-", "_" and "."`;
  if (/^[.-]|[.-]$/.test(name)) return `"${name}" must not start or end with "-" or "."`;
  if (/--|\.\./.test(name)) return `"${name}" must not contain "--" or ".."`;
  return null;
}

const hostOf = (url: string): string => new URL(url).host;

/** Maps what the library or fetch threw to a HubPushError naming the step. */
export function pushError(e: unknown, step: PushStep, o: { hubUrl: string; repoId: string | null; signal: AbortSignal }): HubPushError {
  if (e instanceof HubPushError) return e;
  const host = hostOf(o.hubUrl);
  const repo = o.repoId ?? 'the repository';
  if (o.signal.aborted || (e instanceof DOMException && e.name === 'AbortError')) {
    return new HubPushError('cancelled', 'The push was cancelled. Nothing is lost: Retry continues, and files the Hub already holds are not sent again.');
  }
  if (e instanceof HubTokenRefusedError) return new HubPushError('token', e.message);
  if (e instanceof HubApiError) {
    const said = (e.message.split('. URL:')[0] ?? '').trim();
    const s = e.statusCode;
    if (s === 401) return new HubPushError('token', `The Hub refused the access token (401: ${said}): it is wrong or expired. Create a token with write access in your Hub settings and try again.`, s);
    if (s === 413 || s === 507 || /quota|storage limit|exceed/i.test(said)) return new HubPushError('quota', `The Hub refused the upload for lack of space (${s}: ${said}). Free space on your account or upload fewer files; Retry continues.`, s);
    if (s === 403 && step === 'account') return new HubPushError('token', `The access token may not be used here (403: ${said}). Use a token with write access.`, s);
    if (s === 403) return new HubPushError('not-yours', `${repo} belongs to someone else or your token cannot write to it (403: ${said}). Choose a name under your own account, or use a token with write access.`, s);
    if ((s === 400 || s === 422) && step === 'repository') return new HubPushError('name', `The Hub refused the repository name (${s}: ${said}).`, s);
    return new HubPushError('hub', `The Hub answered ${s} while ${STEP_WORDS[step]} (${said}). Retry continues where this stopped.`, s);
  }
  if (e instanceof TypeError) {
    return new HubPushError('connection', `The connection to ${host} dropped while ${STEP_WORDS[step]} (${e.message}). Nothing is lost: Retry continues, and files the Hub already holds are not sent again.`);
  }
  return new HubPushError('hub', `Push failed while ${STEP_WORDS[step]}: ${e instanceof Error ? e.message : String(e)}`);
}

const STEP_WORDS: Record<PushStep, string> = {
  account: 'checking the token (whoami)',
  repository: 'creating the repository',
  preuploading: 'preparing the upload',
  uploadingLargeFiles: 'uploading the large files (LFS)',
  committing: 'committing',
};

export async function pushToHub(o: PushOptions): Promise<PushResult> {
  let step: PushStep = 'account';
  let repoId: string | null = null;
  let files: Record<string, FileState> = {};
  const report = (): void => o.onProgress({ step, files: structuredClone(files) });
  try {
    if (!mayReceiveToken(o.hubUrl, o.trusted)) {
      throw new HubPushError('token', `Your access token is not sent to ${hostOf(o.hubUrl)}: tick "Send my token to ${hostOf(o.hubUrl)}" in the Model step to push there.`);
    }
    const [ns, name, ...rest] = o.repo.trim().split('/');
    const repoName = name === undefined ? ns : name;
    const problem = rest.length ? `"${o.repo}" has more than one "/"` : repoNameProblem(repoName);
    if (problem) throw new HubPushError('name', `The repository name is refused: ${problem}.`);
    const fetch = guardedFetch(o.token, o.trusted, o.signal);
    const common = { hubUrl: o.hubUrl, accessToken: o.token, fetch };
    report();
    const me = await whoAmI(common);
    const namespaces = me.type === 'user' ? [me.name, ...me.orgs.map((org) => org.name)] : [me.name];
    const owner = name === undefined ? me.name : ns;
    repoId = `${owner}/${repoName}`;
    if (!namespaces.includes(owner)) {
      throw new HubPushError('not-yours', `${repoId} belongs to ${owner}, not to you (${namespaces.join(', ')}): push under your own account or one of your organizations.`);
    }
    const toSend = o.files(repoId);
    files = Object.fromEntries(toSend.map((f) => [f.path, { state: 'waiting', fraction: 0 }]));
    step = 'repository';
    report();
    let created = true;
    let repoUrl = `${o.hubUrl}/${repoId}`;
    try {
      repoUrl = (await createRepo({ ...common, repo: { type: 'model', name: repoId }, visibility: o.private ? 'private' : 'public' })).repoUrl;
    } catch (e) {
      if (!(e instanceof HubApiError && e.statusCode === 409)) throw e;
      created = false; // it exists under the user's namespace: the commit goes on top
    }
    step = 'preuploading';
    report();
    const operations: CommitOperation[] = toSend.map((f) => ({ operation: 'addOrUpdate', path: f.path, content: f.content }));
    const it = commitIter({ ...common, repo: { type: 'model', name: repoId }, operations, title: o.commitTitle, abortSignal: o.signal });
    let r = await it.next();
    while (!r.done) {
      const ev = r.value;
      if (ev.event === 'phase') step = ev.phase;
      else if (ev.state === 'hashing') files[ev.path] = { state: 'hashing', fraction: ev.progress };
      else if (ev.state === 'uploading') {
        // The library reports 1 at once, with no 0 before, for an object the LFS batch says the Hub holds.
        const before = files[ev.path].state;
        files[ev.path] = ev.progress >= 1 ? { state: before === 'uploading' ? 'uploaded' : 'already', fraction: 1 } : { state: 'uploading', fraction: ev.progress };
      }
      report();
      r = await it.next();
    }
    // Files sent inside the commit (not LFS) get no final event: the commit's success is theirs.
    for (const f of Object.values(files)) if (f.state !== 'uploaded' && f.state !== 'already') Object.assign(f, { state: 'committed', fraction: 1 });
    report();
    return { repoId, repoUrl, commitUrl: r.value?.commit.url ?? repoUrl, created };
  } catch (e) {
    throw pushError(e, step, { hubUrl: o.hubUrl, repoId, signal: o.signal });
  }
}
