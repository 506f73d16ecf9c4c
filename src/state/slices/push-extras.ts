// The exports built on the page since the run, kept to push beside the adapter: a leaf module that
// the push slice fills and the export slice clears (resetExport), without importing each other.
import type { PushFile } from '../../hub/push';
import type { BuiltExport } from './export-card';
import type { HubPushSlice } from './hub-push';

/** The extras' bytes, by folder. Not state: blobs, no renders. */
export const extraFiles = new Map<string, { what: BuiltExport; files: PushFile[] }>();

/** What resetExport sets: a new run or model makes the last push's report and the built exports stale. */
export function idlePush(): HubPushSlice['hubPush'] {
  extraFiles.clear();
  return { extras: [], status: 'idle', progress: null, error: null, result: null };
}
