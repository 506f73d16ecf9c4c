// What `--data` names for prepare, train and export --format recipe: a file on this machine, or a
// Hub dataset's split `hub:ID[@REVISION][:CONFIG][/SPLIT]` brought into the cache first
// (hub-dataset.ts, with --hub-endpoint / HF_ENDPOINT and HF_TOKEN). Either way the commands read
// one record source (the split's files in order) and name the data the same way everywhere.
import { createHash } from 'node:crypto';
import type { ResolvedSplit } from '../hub/datasets';
import { formatBytes } from '../hub/download';
import type { RecordSource } from '../data/records/record-source';
import { sha256File } from './train-state';
import { openDataFiles } from './prepare';
import { fetchHubDataset, hubAccess, isHubDataRef } from './hub-dataset';

export const HUB_ENDPOINT_FLAG = 'hub-endpoint';

export interface CliData {
  /** As given: the path, or the `hub:` reference. */
  name: string;
  /** The files read, in order (a Hub split's files in the cache). */
  paths: string[];
  /** The Hub split, for a `hub:` reference. */
  hub: ResolvedSplit | null;
  /** A fresh record source over the files (each call reads from the start). */
  open(): RecordSource;
  /** The data's identity for --resume: the file's SHA-256; of several files, the SHA-256 of their SHA-256s. */
  sha256(): Promise<string>;
}

/**
 * The data of `--data VALUE`. A `hub:` reference is resolved and downloaded (progress on stderr,
 * prefixed with `command`); throws what fetchHubDataset throws (HubDatasetError names the id).
 */
export async function openCliData(value: string, endpointFlag: string | undefined, command: string): Promise<CliData> {
  let paths = [value];
  let hub: ResolvedSplit | null = null;
  if (isHubDataRef(value)) {
    let shown = '';
    const got = await fetchHubDataset(value, hubAccess(endpointFlag), {
      onProgress: (p) => {
        const line = `${command}: ${value}: ${p.file} ${formatBytes(p.fileDone)} of ${formatBytes(p.fileTotal)}`;
        if (p.fileDone === p.fileTotal && line !== shown) process.stderr.write(`${(shown = line)}\n`);
      },
    });
    if (got.offline) process.stderr.write(`${command}: the Hub is unreachable: ${value} is read from the cache as it was last resolved\n`);
    ({ paths, split: hub } = { paths: got.paths, split: got.split });
  }
  return {
    name: value,
    paths,
    hub,
    open: () => openDataFiles(paths),
    async sha256() {
      if (paths.length === 1) return sha256File(paths[0]);
      const h = createHash('sha256');
      for (const p of paths) h.update(await sha256File(p));
      return h.digest('hex');
    },
  };
}
