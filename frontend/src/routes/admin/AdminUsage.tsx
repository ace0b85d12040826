import { DownloadLink } from '../../components/ui/DownloadLink';
import { useState } from 'react';
import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { csvUrl, type UsageFilters } from '../../features/usage/api';
import { UsageCharts } from '../../features/usage/UsageCharts';
import { UsageFiltersBar } from '../../features/usage/UsageFiltersBar';
import { UsageReportView } from '../../features/usage/UsageReportView';
import { useUsage } from '../../features/usage/useUsage';
import { useT } from '../../i18n';

export function AdminUsage() {
  const t = useT();
  const [filters, setFilters] = useState<UsageFilters>({ group_by: 'day' });
  const usage = useUsage('admin', filters);
  const { group_by: _group, ...rowFilters } = filters;
  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{t('admin.usage')}</h1>
        <DownloadLink href={csvUrl(rowFilters)}>{t('usage.csv')}</DownloadLink>
      </div>
      <UsageFiltersBar admin filters={filters} onChange={setFilters} />
      <UsageCharts scope="admin" filters={filters} />
      {usage.error ? <ErrorNotice error={usage.error} /> : null}
      {usage.loading && !usage.report ? <Spinner label={t('common.loading')} /> : null}
      {usage.report ? <UsageReportView report={usage.report} groupLabel={t(`usage.group.${filters.group_by}`)} bars={filters.group_by === 'user' || filters.group_by === 'model'} /> : null}
    </>
  );
}
