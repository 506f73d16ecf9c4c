// A run paused by a write the browser refused (storage full), whose paused record was refused
// too (run.ts), stays "running" in IndexedDB: a reload would resume it into the same refusal,
// again and again. The page notes the pause in localStorage (a separate small quota) instead, and
// shows the stored run with the note applied: paused (storage full), not resumed by a reload. The
// note goes once the record is written again (its resume runs, or it is paused, finished or
// deleted). The worker has no localStorage: it reports the refused record (its quotaPause event).
import type { ErrorInfo } from '../worker/protocol';
import type { RunRecord } from '../worker/run-store';

/** What the page needs of localStorage (a test passes its own). */
export type NoteStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'>;

interface PauseNote {
  /** The run's last checkpoint (written even where the record pointing at it was refused). */
  checkpointStep: number;
  error: ErrorInfo;
}

const PREFIX = 'lora-studio-paused-run|';

/** The page's localStorage; null where there is none (a worker, a test, a browser that refuses it). */
function pageStorage(): NoteStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // reading localStorage itself throws where the browser forbids it
  }
}

/**
 * Notes the pause of run `runId` at `checkpointStep` whose paused record the browser refused, and
 * returns `error` (the worker's RunStoreQuotaError) with what that means for the run appended.
 */
export function notePausedRun(runId: string, checkpointStep: number, error: ErrorInfo, storage = pageStorage()): ErrorInfo {
  const at = checkpointStep > 0 ? `its checkpoint at step ${checkpointStep}` : 'its start (no checkpoint yet)';
  const noted: ErrorInfo = {
    ...error,
    message: `${error.message} The pause is kept in this page's local storage instead: a reload does not resume the run, and Past runs lists it paused at ${at}. Free space, then resume it from Past runs${checkpointStep > 0 ? ' (or export that checkpoint)' : ''}.`,
  };
  try {
    if (!storage) throw new Error('no localStorage');
    storage.setItem(PREFIX + runId, JSON.stringify({ checkpointStep, error: noted } satisfies PauseNote));
    return noted;
  } catch {
    return {
      ...error,
      message: `${error.message} This page's local storage refused to keep the pause too: the run stays marked interrupted, and the next reload tries to resume it again (and says so here if space is still short).`,
    };
  }
}

/** Forgets run `runId`'s note: its record is written again (it resumed), or it is deleted. */
export function clearPauseNote(runId: string, storage = pageStorage()): void {
  try {
    storage?.removeItem(PREFIX + runId);
  } catch {
    /* nothing noted can be read either */
  }
}

function readNote(storage: NoteStorage, runId: string): PauseNote | null {
  try {
    const v = JSON.parse(storage.getItem(PREFIX + runId) ?? 'null') as PauseNote | null;
    return v && typeof v.checkpointStep === 'number' && typeof v.error?.name === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * The stored runs as the page shows and resumes them: a "running" run with a note is paused
 * (storage full) at its noted checkpoint. Notes of runs no longer stored or no longer "running"
 * (their record was written since) are dropped.
 */
export function withPauseNotes(runs: RunRecord[], storage = pageStorage()): RunRecord[] {
  if (!storage) return runs;
  try {
    const byId = new Map(runs.map((r) => [r.id, r]));
    for (let i = storage.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (key?.startsWith(PREFIX) && byId.get(key.slice(PREFIX.length))?.status !== 'running') storage.removeItem(key);
    }
  } catch {
    /* the notes stay: they only ever pause a run that is still "running" */
  }
  return runs.map((r) => {
    const note = r.status === 'running' ? readNote(storage, r.id) : null;
    return note ? { ...r, status: 'paused', error: note.error, checkpointStep: Math.max(r.checkpointStep, note.checkpointStep) } : r;
  });
}
