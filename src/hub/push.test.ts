// pushToHub through @huggingface/hub against the stand-in Hub's API (the HTTP calls the library
// makes to huggingface.co): the repository, the files byte for byte, each failure named, and a
// retry that does not send again what the Hub holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubPushError, pushToHub, repoNameProblem, type PushOptions, type PushProgress } from './push';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';

const TOKEN = 'hf_writeToken123';
const adapter = new Uint8Array(5000).map((_, i) => (i * 7) % 256);
const files = () => [
  { path: 'adapter_model.safetensors', content: new Blob([adapter]) },
  { path: 'adapter_config.json', content: new Blob(['{"r": 8}']) },
  { path: 'README.md', content: new Blob(['---\nlibrary_name: peft\n---\n# card\n']) },
];

let hub: StandInHub;
beforeEach(async () => {
  hub = await startStandInHub({ models: {}, api: { users: { [TOKEN]: { name: 'alice', orgs: ['lab'] } }, existing: ['bob/taken'] } });
});
afterEach(() => hub.close());

const push = (o: Partial<PushOptions> = {}, progress: PushProgress[] = []) =>
  pushToHub({
    hubUrl: hub.url,
    token: TOKEN,
    trusted: [hub.url],
    repo: 'my-adapter',
    private: true,
    files: () => files(),
    commitTitle: 'Upload LoRA adapter',
    signal: new AbortController().signal,
    onProgress: (p) => progress.push(p),
    ...o,
  });

const failure = async (p: Promise<unknown>): Promise<HubPushError> => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HubPushError);
  return e as HubPushError;
};

const uploads = () => hub.api.apiLog.filter((r) => r.route === 'lfs-upload').length;

describe('pushToHub', () => {
  it('creates a private repository under the token user and commits the three files byte for byte', async () => {
    const progress: PushProgress[] = [];
    const r = await push({}, progress);
    expect(r).toMatchObject({ repoId: 'alice/my-adapter', created: true });
    const repo = hub.api.repos.get('alice/my-adapter')!;
    expect(repo.private).toBe(true);
    expect([...repo.files.keys()].sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    expect(repo.files.get('adapter_model.safetensors')).toEqual(adapter);
    expect(new TextDecoder().decode(repo.files.get('adapter_config.json'))).toBe('{"r": 8}');
    expect(uploads()).toBe(1); // only the .safetensors goes through LFS
    expect(progress.at(-1)!.files['adapter_model.safetensors'].state).toBe('uploaded');
    expect(progress.map((p) => p.step)).toContain('committing');
  });

  it('names a wrong token (401) and sends nothing', async () => {
    const e = await failure(push({ token: 'hf_wrong' }));
    expect(e.kind).toBe('token');
    expect(e.message).toMatch(/401.*wrong or expired/);
    expect(hub.api.apiLog.map((r) => r.route)).toEqual(['whoami']);
  });

  it('refuses a namespace that is not the user’s before creating anything', async () => {
    const e = await failure(push({ repo: 'bob/taken' }));
    expect(e.kind).toBe('not-yours');
    expect(e.message).toContain('bob/taken belongs to bob');
    expect(hub.api.apiLog.some((r) => r.route === 'create')).toBe(false);
  });

  it('pushes into an organization of the user and onto an existing repository of theirs', async () => {
    expect((await push({ repo: 'lab/shared' })).repoId).toBe('lab/shared');
    const again = await push({ repo: 'lab/shared' });
    expect(again.created).toBe(false);
    expect(hub.api.repos.get('lab/shared')!.commits).toBe(2);
  });

  it('names a repository name the Hub refuses, and one refused before asking', async () => {
    expect(repoNameProblem('ok-name_1.x')).toBeNull();
    expect(repoNameProblem('bad--name')).toMatch(/--/);
    expect((await failure(push({ repo: '-bad' }))).kind).toBe('name');
    hub.api.failOnce('create', 400, 'Invalid repo name: reserved');
    const e = await failure(push());
    expect([e.kind, e.status]).toEqual(['name', 400]);
    expect(e.message).toContain('reserved');
  });

  it('names a quota refusal', async () => {
    hub.api.failOnce('lfs-batch', 403, 'You have exceeded your storage quota');
    const e = await failure(push());
    expect(e.kind).toBe('quota');
    expect(e.message).toContain('exceeded your storage quota');
  });

  it('after a connection dropped at the commit, the retry completes without uploading the adapter again', async () => {
    hub.api.drop('commit');
    const e = await failure(push());
    expect(e.kind).toBe('connection');
    expect(e.message).toMatch(/dropped while committing.*Retry continues/);
    expect(uploads()).toBe(1);
    const progress: PushProgress[] = [];
    const r = await push({}, progress);
    expect(r.created).toBe(false);
    expect(uploads()).toBe(1);
    expect(progress.at(-1)!.files['adapter_model.safetensors'].state).toBe('already');
    expect(hub.api.repos.get('alice/my-adapter')!.files.get('adapter_model.safetensors')).toEqual(adapter);
  });

  it('after a connection dropped during the LFS upload, the retry uploads it and completes', async () => {
    hub.api.drop('lfs-upload');
    expect((await failure(push())).kind).toBe('connection');
    await push();
    expect(uploads()).toBe(2);
    expect(hub.api.repos.get('alice/my-adapter')!.files.get('adapter_model.safetensors')).toEqual(adapter);
  });

  it('stops when cancelled', async () => {
    const abort = new AbortController();
    abort.abort();
    expect((await failure(push({ signal: abort.signal }))).kind).toBe('cancelled');
  });

  it('does not send the token to a Hub it may not receive', async () => {
    const e = await failure(push({ trusted: ['https://huggingface.co'] }));
    expect(e.kind).toBe('token');
    expect(hub.api.apiLog).toEqual([]);
  });

  it('asks for the files with the repository id whoami resolved, and commits them under their folders', async () => {
    const asked: string[] = [];
    await push({ repo: 'lab/onnx', files: (id) => (asked.push(id), [...files(), { path: 'onnx-q4/config.json', content: new Blob([`{"repo": "${id}"}`]) }]) });
    await push({ files: (id) => (asked.push(id), files()) });
    expect(asked).toEqual(['lab/onnx', 'alice/my-adapter']);
    expect(new TextDecoder().decode(hub.api.repos.get('lab/onnx')!.files.get('onnx-q4/config.json'))).toBe('{"repo": "lab/onnx"}');
  });

  it('sends an ONNX folder’s model and external data through LFS, its JSON in the commit', async () => {
    const model = new Uint8Array(3000).map((_, i) => (i * 13) % 251);
    const data = new Uint8Array(7000).map((_, i) => (i * 5) % 253);
    const onnx = [
      { path: 'onnx-q4/config.json', content: new Blob(['{"model_type": "llama"}']) },
      { path: 'onnx-q4/tokenizer.json', content: new Blob(['{"model": {}}']) },
      { path: 'onnx-q4/onnx/model_q4.onnx', content: new Blob([model]) },
      { path: 'onnx-q4/onnx/model_q4.onnx_data', content: new Blob([data]) },
    ];
    const progress: PushProgress[] = [];
    await push({ files: () => [...files(), ...onnx] }, progress);
    const repo = hub.api.repos.get('alice/my-adapter')!;
    expect(repo.files.get('onnx-q4/onnx/model_q4.onnx')).toEqual(model);
    expect(repo.files.get('onnx-q4/onnx/model_q4.onnx_data')).toEqual(data);
    expect(new TextDecoder().decode(repo.files.get('onnx-q4/config.json'))).toBe('{"model_type": "llama"}');
    const states = Object.fromEntries(Object.entries(progress.at(-1)!.files).map(([p, f]) => [p, f.state]));
    expect(states).toEqual({
      'adapter_model.safetensors': 'uploaded',
      'adapter_config.json': 'committed',
      'README.md': 'committed',
      'onnx-q4/config.json': 'committed',
      'onnx-q4/tokenizer.json': 'committed',
      'onnx-q4/onnx/model_q4.onnx': 'uploaded',
      'onnx-q4/onnx/model_q4.onnx_data': 'uploaded',
    });
    expect(uploads()).toBe(3);
  });
});
