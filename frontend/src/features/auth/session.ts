/**
 * Who is signed in. `status` drives the whole app: `loading` (asking /api/me),
 * `anonymous` (the login page) or `ready`. A 401 from any request signs out locally.
 */
import { create } from 'zustand';
import { UNAUTHORIZED_EVENT } from '../../api/client';
import { useLanguage } from '../../i18n';
import { applyTheme } from '../settings/theme';
import * as authApi from './api';
import type { Me, UserSettings } from './api';
import { resetUserData } from './userData';

interface SessionState {
  status: 'loading' | 'anonymous' | 'ready';
  me: Me | null;
  load: () => Promise<void>;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  logoutEverywhere: () => Promise<void>;
  expire: () => void;
  saveSettings: (settings: Partial<UserSettings>) => Promise<void>;
}

function adopt(me: Me) {
  if (me.settings.language) useLanguage.getState().setLanguage(me.settings.language);
  applyTheme(me.settings.theme ?? 'system');
}

export const useSession = create<SessionState>((set, get) => ({
  status: 'loading',
  me: null,
  load: async () => {
    try {
      const me = await authApi.fetchMe();
      adopt(me);
      set({ status: 'ready', me });
    } catch {
      set({ status: 'anonymous', me: null });
    }
  },
  login: async (email, password) => {
    await authApi.login(email, password);
    resetUserData();
    await get().load();
  },
  logout: async () => {
    try {
      await authApi.logout();
    } finally {
      set({ status: 'anonymous', me: null });
      resetUserData();
    }
  },
  logoutEverywhere: async () => {
    try {
      await authApi.logoutEverywhere();
    } finally {
      set({ status: 'anonymous', me: null });
      resetUserData();
    }
  },
  expire: () => {
    if (get().status !== 'anonymous') {
      set({ status: 'anonymous', me: null });
      resetUserData();
    }
  },
  saveSettings: async (settings) => {
    const me = await authApi.saveSettings(settings);
    adopt(me);
    set({ me });
  },
}));

if (typeof window !== 'undefined') {
  window.addEventListener(UNAUTHORIZED_EVENT, () => useSession.getState().expire());
}
