import { Cpu, LogOut, Menu, MessageSquare, Settings, X } from 'lucide-react';
import { useState, type ReactNode } from 'react';
import { IconButton } from '../components/ui/Button';
import { useSession } from '../features/auth/session';
import { LanguageSelect } from '../features/settings/LanguageSelect';
import { useT } from '../i18n';
import { Link, useLocation } from '../router';

interface Props {
  /** Page-specific content at the top of the sidebar (the chat's conversation list). */
  sidebar?: (close: () => void) => ReactNode;
  children: ReactNode;
}

/** The frame of every signed-in page: a sidebar (a drawer on phones) and the page. */
export function Layout({ sidebar, children }: Props) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const me = useSession((s) => s.me);
  const logout = useSession((s) => s.logout);
  const location = useLocation();
  const close = () => setOpen(false);
  const nav = [
    { to: '/', label: t('nav.chat'), icon: MessageSquare, active: location === '/' || location.startsWith('/c/') },
    { to: '/settings', label: t('nav.settings'), icon: Settings, active: location.startsWith('/settings') },
    ...(me?.role === 'admin'
      ? [{ to: '/admin/models', label: t('nav.admin'), icon: Cpu, active: location.startsWith('/admin') }]
      : []),
  ];

  return (
    <div className="flex h-dvh overflow-hidden bg-zinc-50 text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:m-2 focus:rounded focus:bg-white focus:p-2">
        {t('nav.skip')}
      </a>
      {open ? <div className="fixed inset-0 z-30 bg-black/40 md:hidden" onClick={close} aria-hidden /> : null}
      <aside
        aria-label={t('nav.sidebar')}
        className={`fixed inset-y-0 left-0 z-40 flex w-72 flex-col border-r border-zinc-200 bg-zinc-100 transition-transform md:static md:translate-x-0 dark:border-zinc-800 dark:bg-zinc-900 ${open ? 'translate-x-0' : '-translate-x-full'}`}
      >
        <div className="flex items-center justify-between px-4 pt-3 pb-1">
          <Link to="/" className="flex items-center gap-2 font-semibold" onClick={close}>
            <img src="/favicon.svg" alt="" className="h-6 w-6" />
            gpuchat
          </Link>
          <IconButton label={t('nav.closeMenu')} className="md:hidden" onClick={close}>
            <X aria-hidden className="h-4 w-4" />
          </IconButton>
        </div>
        <nav aria-label={t('nav.main')} className="flex gap-1 px-2 py-2">
          {nav.map((item) => (
            <Link
              key={item.to}
              to={item.to}
              onClick={close}
              aria-current={item.active ? 'page' : undefined}
              className={`flex flex-auto items-center justify-center gap-1.5 rounded-lg px-2 py-1.5 text-sm whitespace-nowrap ${item.active ? 'bg-white font-medium shadow-sm dark:bg-zinc-800' : 'text-zinc-600 hover:bg-zinc-200 dark:text-zinc-400 dark:hover:bg-zinc-800'}`}
            >
              <item.icon aria-hidden className="h-4 w-4" />
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="min-h-0 flex-1">{sidebar?.(close)}</div>
        <div className="flex items-center gap-2 border-t border-zinc-200 px-3 py-2 text-sm dark:border-zinc-800">
          <span className="min-w-0 flex-1 truncate text-zinc-600 dark:text-zinc-400" title={me?.email}>
            {me?.email}
          </span>
          <LanguageSelect compact />
          <IconButton label={t('nav.logout')} onClick={() => void logout()}>
            <LogOut aria-hidden className="h-4 w-4" />
          </IconButton>
        </div>
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <div className="flex items-center gap-2 border-b border-zinc-200 px-2 py-1.5 md:hidden dark:border-zinc-800">
          <IconButton label={t('nav.openMenu')} onClick={() => setOpen(true)}>
            <Menu aria-hidden className="h-5 w-5" />
          </IconButton>
          <span className="font-semibold">gpuchat</span>
        </div>
        <main id="main" className="flex min-h-0 flex-1 flex-col">
          {children}
        </main>
      </div>
    </div>
  );
}
