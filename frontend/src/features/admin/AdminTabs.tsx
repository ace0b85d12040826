import { useT } from '../../i18n';
import { Link, useLocation } from '../../router';

const TABS = [
  { to: '/admin/models', key: 'admin.models' },
  { to: '/admin/profiles', key: 'admin.profiles' },
  { to: '/admin/live', key: 'admin.live' },
  { to: '/admin/usage', key: 'admin.usage' },
  { to: '/admin/feedback', key: 'admin.feedback' },
  { to: '/admin/users', key: 'admin.users' },
  { to: '/admin/groups', key: 'admin.groups' },
  { to: '/admin/audit', key: 'admin.audit' },
] as const;

export function AdminTabs() {
  const t = useT();
  const location = useLocation();
  return (
    <nav aria-label={t('nav.admin')} className="flex gap-1 overflow-x-auto border-b border-zinc-200 px-4 dark:border-zinc-800">
      {TABS.map((tab) => {
        const active = location.startsWith(tab.to);
        return (
          <Link
            key={tab.to}
            to={tab.to}
            aria-current={active ? 'page' : undefined}
            className={`border-b-2 px-3 py-2.5 text-sm whitespace-nowrap ${active ? 'border-indigo-600 font-medium text-indigo-700 dark:text-indigo-300' : 'border-transparent text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100'}`}
          >
            {t(tab.key)}
          </Link>
        );
      })}
    </nav>
  );
}
