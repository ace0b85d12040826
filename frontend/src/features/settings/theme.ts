import type { Theme } from '../auth/api';

const STORAGE_KEY = 'gpuchat.theme';
let media: MediaQueryList | null = null;

/** Sets the `dark` class on <html>; `system` follows the OS setting as it changes. */
export function applyTheme(theme: Theme) {
  try {
    localStorage.setItem(STORAGE_KEY, theme);
  } catch {
    // Private mode: the theme still applies for this page.
  }
  media ??= window.matchMedia?.('(prefers-color-scheme: dark)') ?? null;
  const update = () => {
    const dark = theme === 'dark' || (theme === 'system' && (media?.matches ?? false));
    document.documentElement.classList.toggle('dark', dark);
  };
  if (media) media.onchange = theme === 'system' ? update : null;
  update();
}

export function storedTheme(): Theme {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if (value === 'light' || value === 'dark' || value === 'system') return value;
  } catch {
    // fall through
  }
  return 'system';
}
