import { GroupsPanel } from '../../features/admin/GroupsPanel';
import { useT } from '../../i18n';

export function AdminGroups() {
  const t = useT();
  return (
    <>
      <h1 className="text-xl font-semibold">{t('admin.groups')}</h1>
      <GroupsPanel />
    </>
  );
}
