import { get, patch, post } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type Role = 'user' | 'admin';
export type Theme = 'light' | 'dark' | 'system';

export interface UserSettings {
  system_prompt: string | null;
  model: string | null;
  temperature: number | null;
  top_p: number | null;
  max_tokens: number | null;
  language: 'ko' | 'en' | null;
  theme: Theme | null;
}

export interface UserLimits {
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  concurrent_streams: number | null;
  tokens_per_day: number | null;
  tokens_per_month: number | null;
  requests_per_day: number | null;
  requests_per_month: number | null;
}

export interface Me {
  id: number;
  email: string;
  role: Role;
  disabled: boolean;
  settings: UserSettings;
  limits: UserLimits | null;
  created: string;
  /** The names of the user's groups. */
  groups?: string[];
}

export const fetchMe = () => get<Me>('/api/me');
export const login = (email: string, password: string) =>
  post<{ user: Me }>('/api/auth/login', { email, password });
export const logout = () => post<unknown>('/api/auth/logout');
export const logoutEverywhere = () => post<unknown>('/api/auth/logout-all');
export const saveSettings = (settings: Partial<UserSettings>) =>
  patch<Me>('/api/me/settings', settings);
export const changePassword = (current_password: string, new_password: string) =>
  post<unknown>('/api/me/password', { current_password, new_password });

export type AuthOptions = Schema<'AuthOptions'>;
/** What the login page offers: the SSO button (when configured) and the password form. */
export const fetchAuthOptions = () => get<AuthOptions>('/api/auth/options');
