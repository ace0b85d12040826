import { lazy, Suspense, useEffect } from 'react';
import { Spinner } from './components/ui/Feedback';
import { useSession } from './features/auth/session';
import { useT } from './i18n';
import { match, navigate, useLocation } from './router';
import type { AdminSection } from './routes/AdminPage';
import { ChatPage } from './routes/ChatPage';
import { LoginPage } from './routes/LoginPage';
import { NotFoundPage } from './routes/NotFoundPage';

// Settings and the admin pages load on first visit, keeping them out of the initial bundle.
const SettingsPage = lazy(() => import('./routes/SettingsPage').then((m) => ({ default: m.SettingsPage })));
const AdminPage = lazy(() => import('./routes/AdminPage').then((m) => ({ default: m.AdminPage })));

const ADMIN_SECTIONS: readonly AdminSection[] = ['models', 'profiles', 'live', 'usage', 'feedback', 'users', 'groups', 'audit'];

export function App() {
  const t = useT();
  const status = useSession((s) => s.status);
  const location = useLocation();

  useEffect(() => {
    void useSession.getState().load();
  }, []);

  useEffect(() => {
    if (status === 'ready' && location.startsWith('/login')) navigate('/', { replace: true });
  }, [status, location]);

  if (status === 'loading') {
    return (
      <div className="flex h-dvh items-center justify-center">
        <Spinner label={t('common.loading')} />
      </div>
    );
  }
  if (status === 'anonymous') return <LoginPage />;
  return (
    <Suspense
      fallback={
        <div className="flex h-dvh items-center justify-center">
          <Spinner label={t('common.loading')} />
        </div>
      }
    >
      <Page location={location} />
    </Suspense>
  );
}

function Page({ location }: { location: string }) {
  if (match('/', location) || match('/login', location)) return <ChatPage conversationId={null} />;
  const chat = match('/c/:id', location);
  if (chat) {
    const id = Number(chat.id);
    return Number.isInteger(id) && id > 0 ? <ChatPage conversationId={id} /> : <NotFoundPage />;
  }
  if (match('/settings', location)) return <SettingsPage />;
  if (match('/admin', location)) return <AdminPage section="models" />;
  const admin = match('/admin/:section', location);
  if (admin && (ADMIN_SECTIONS as readonly string[]).includes(admin.section ?? '')) {
    return <AdminPage section={admin.section as AdminSection} />;
  }
  return <NotFoundPage />;
}
