import { Select, TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import type { GroupBy, UsageFilters } from './api';

interface Props {
  filters: UsageFilters;
  onChange: (filters: UsageFilters) => void;
  /** Admins also filter by user, model and status. */
  admin?: boolean;
}

export function UsageFiltersBar({ filters, onChange, admin = false }: Props) {
  const t = useT();
  const set = (changes: Partial<UsageFilters>) => onChange({ ...filters, ...changes });
  const groups: GroupBy[] = admin ? ['day', 'hour', 'user', 'group', 'model'] : ['day', 'hour', 'model'];
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-7">
      <Select label={t('usage.groupBy')} value={filters.group_by} onChange={(e) => set({ group_by: e.target.value as GroupBy })}>
        {groups.map((group) => (
          <option key={group} value={group}>
            {t(`usage.group.${group}`)}
          </option>
        ))}
      </Select>
      <TextInput label={t('usage.from')} type="date" value={filters.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
      <TextInput label={t('usage.to')} type="date" value={filters.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
      {admin ? (
        <>
          <TextInput label={t('usage.user')} value={filters.user ?? ''} onChange={(e) => set({ user: e.target.value })} />
          <TextInput label={t('usage.groupFilter')} value={filters.group ?? ''} onChange={(e) => set({ group: e.target.value })} />
          <TextInput label={t('usage.model')} value={filters.model ?? ''} onChange={(e) => set({ model: e.target.value })} />
          <Select label={t('usage.status')} value={filters.status ?? ''} onChange={(e) => set({ status: e.target.value })}>
            <option value="">{t('usage.statusAll')}</option>
            <option value="ok">{t('usage.statusOk')}</option>
            <option value="error">{t('usage.statusError')}</option>
          </Select>
        </>
      ) : null}
    </div>
  );
}
