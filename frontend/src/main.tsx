import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { applyTheme, storedTheme } from './features/settings/theme';
import { useLanguage } from './i18n';
import './index.css';

// Before the first paint (the CSP allows no inline script in index.html to do it earlier).
applyTheme(storedTheme());
document.documentElement.lang = useLanguage.getState().language;

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
