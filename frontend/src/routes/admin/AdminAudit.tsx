import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { Pager } from '../../components/ui/Pager';
import { auditCsvUrl, listAudit, type AuditFilters, type AuditLog } from '../../features/admin/audit';
import { AuditFiltersBar, AuditTable } from '../../features/admin/AuditPanel';
import { FilteredPage } from '../../features/admin/FilteredPage';
import { useFilteredPage } from '../../features/admin/useFilteredPage';
import { useT } from '../../i18n';

/** The audit log, newest first, one page at a time. */
export function AdminAudit() {
  const t = useT();
  const list = useFilteredPage<AuditFilters, AuditLog>({}, listAudit);
  return (
    <FilteredPage
      title={t('admin.audit')}
      csv={{ href: auditCsvUrl(list.filters), label: t('audit.csv') }}
      filters={<AuditFiltersBar filters={list.filters} onChange={list.setFilters} />}
    >
      {list.error ? (
        <ErrorNotice error={list.error} onRetry={list.reload} />
      ) : list.data === null ? (
        <Spinner label={t('common.loading')} />
      ) : (
        <div>
          <AuditTable log={list.data} />
          <Pager summary={t('audit.total', { count: list.data.total })} total={list.data.total} {...list.pager} />
        </div>
      )}
    </FilteredPage>
  );
}
