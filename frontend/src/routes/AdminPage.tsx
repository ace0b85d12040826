import type { ReactNode } from 'react';
import { AdminTabs } from '../features/admin/AdminTabs';
import { useSession } from '../features/auth/session';
import { useT } from '../i18n';
import { AdminAudit } from './admin/AdminAudit';
import { AdminFeedback } from './admin/AdminFeedback';
import { AdminGroups } from './admin/AdminGroups';
import { AdminLive } from './admin/AdminLive';
import { AdminModels } from './admin/AdminModels';
import { AdminProfiles } from './admin/AdminProfiles';
import { AdminUsage } from './admin/AdminUsage';
import { AdminUsers } from './admin/AdminUsers';
import { Layout } from './Layout';

export type AdminSection = 'models' | 'profiles' | 'live' | 'usage' | 'feedback' | 'users' | 'groups' | 'audit';

const SECTIONS: Record<AdminSection, () => ReactNode> = {
  models: () => <AdminModels />,
  profiles: () => <AdminProfiles />,
  live: () => <AdminLive />,
  usage: () => <AdminUsage />,
  feedback: () => <AdminFeedback />,
  users: () => <AdminUsers />,
  groups: () => <AdminGroups />,
  audit: () => <AdminAudit />,
};

export function AdminPage({ section }: { section: AdminSection }) {
  const t = useT();
  const admin = useSession((s) => s.me?.role === 'admin');
  return (
    <Layout>
      {admin ? (
        <>
          <AdminTabs />
          <div className="flex-1 overflow-y-auto">
            <div className="mx-auto flex max-w-6xl flex-col gap-4 p-4 sm:p-6">{SECTIONS[section]()}</div>
          </div>
        </>
      ) : (
        <p className="p-6 text-sm text-zinc-500">{t('admin.forbidden')}</p>
      )}
    </Layout>
  );
}
