import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { FilteredPage } from '../../features/admin/FilteredPage';
import { useFilteredPage } from '../../features/admin/useFilteredPage';
import { csvUrl, fetchUsage, type UsageFilters, type UsageReport } from '../../features/usage/api';
import { UsageCharts } from '../../features/usage/UsageCharts';
import { UsageFiltersBar } from '../../features/usage/UsageFiltersBar';
import { UsageReportView } from '../../features/usage/UsageReportView';
import { useT } from '../../i18n';

/** Everyone's usage: totals and charts for the filters, grouped as chosen (one report, no pages). */
export function AdminUsage() {
  const t = useT();
  const usage = useFilteredPage<UsageFilters, UsageReport>({ group_by: 'day' }, (filters) => fetchUsage('admin', filters), { wait: 0 });
  const { filters, data: report } = usage;
  const { group_by: _group, ...rowFilters } = filters;
  return (
    <FilteredPage
      title={t('admin.usage')}
      csv={{ href: csvUrl(rowFilters), label: t('usage.csv') }}
      filters={<UsageFiltersBar admin filters={filters} onChange={usage.setFilters} />}
    >
      <UsageCharts scope="admin" filters={filters} />
      {usage.error ? <ErrorNotice error={usage.error} /> : null}
      {usage.loading && !report ? <Spinner label={t('common.loading')} /> : null}
      {report ? <UsageReportView report={report} groupLabel={t(`usage.group.${filters.group_by}`)} bars={filters.group_by === 'user' || filters.group_by === 'model'} /> : null}
    </FilteredPage>
  );
}
