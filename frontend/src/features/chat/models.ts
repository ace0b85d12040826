/**
 * The models a user can pick (`GET /v1/models`), refreshed while the page is visible so
 * the status chip follows an engine that is loading or switching. Entries are aliases;
 * `root` is the profile that serves them. Fields beyond the OpenAI ones are optional: the
 * chip shows whatever the gateway reports (state, load progress, queue, GPU memory).
 */
import { useEffect } from 'react';
import { create } from 'zustand';
import { onUserChange } from '../auth/userData';
import { get } from '../../api/client';

export interface ModelEntry {
  id: string;
  root: string;
  ready: boolean;
  state?: string;
  progress?: number | null;
  waiting?: number;
  inflight?: number;
  max_tokens?: number | null;
  gpu_memory_used_mib?: number | null;
  gpu_memory_total_mib?: number | null;
}

interface ModelsState {
  models: ModelEntry[];
  loaded: boolean;
  error: unknown;
  refresh: () => Promise<void>;
}

export const useModels = create<ModelsState>((set) => ({
  models: [],
  loaded: false,
  error: null,
  refresh: async () => {
    try {
      const body = await get<{ data: ModelEntry[] }>('/v1/models');
      set({ models: body.data, loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error });
    }
  },
}));

onUserChange(() => useModels.setState({ models: [], loaded: false, error: null }));

export function findModel(models: ModelEntry[], id: string): ModelEntry | undefined {
  return models.find((model) => model.id === id);
}

/** Poll /v1/models every `ms` while the tab is visible (and once at once). */
export function useModelPolling(ms = 5000) {
  useEffect(() => {
    const refresh = () => {
      if (document.visibilityState === 'visible') void useModels.getState().refresh();
    };
    refresh();
    const timer = window.setInterval(refresh, ms);
    document.addEventListener('visibilitychange', refresh);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', refresh);
    };
  }, [ms]);
}
