import { UsersPanel } from '../../features/admin/UsersPanel';
import { useT } from '../../i18n';

export function AdminUsers() {
  const t = useT();
  return (
    <>
      <h1 className="text-xl font-semibold">{t('admin.users')}</h1>
      <UsersPanel />
    </>
  );
}
