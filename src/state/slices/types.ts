import type { StateCreator } from 'zustand';
import type { StudioState } from '../store';

/** A slice creator that sees the whole store. */
export type Slice<T> = StateCreator<StudioState, [], [], T>;

export type Status = 'idle' | 'loading' | 'ready' | 'error';
