/**
 * The models a user can pick (`GET /v1/models`), refreshed while the page is visible so
 * the status chip follows an engine that starts or stops. Entries are aliases; `root` is
 * the profile that serves them, `ready` whether its engine is ready now.
 */
import { useEffect } from 'react';
import { create } from 'zustand';
import { onUserChange } from '../auth/userData';
import { get } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type ModelEntry = Schema<'ModelCard'>;

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
      const body = await get<Schema<'ModelList'>>('/v1/models');
      set({ models: body.data, loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error });
    }
  },
}));

onUserChange(() => useModels.setState({ models: [], loaded: false, error: null }));

/** The model a chat should ask for: `wanted` when the user may use it, else the first one
 * they may (the list is already what their groups allow, in the gateway's order, the one
 * the gateway itself falls back to); `wanted` while the list is empty (not loaded yet). */
export function usableModel(wanted: string, models: ModelEntry[]): string {
  if (models.some((model) => model.id === wanted)) return wanted;
  return models[0]?.id ?? wanted;
}

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
