import { DownloadLink } from '../../components/ui/DownloadLink';
import { useState } from 'react';
import { auditCsvUrl, type AuditFilters } from '../../features/admin/audit';
import { AuditFiltersBar, AuditPanel } from '../../features/admin/AuditPanel';
import { useT } from '../../i18n';

export function AdminAudit() {
  const t = useT();
  const [filters, setFilters] = useState<AuditFilters>({});
  const [page, setPage] = useState(0);
  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{t('admin.audit')}</h1>
        <DownloadLink href={auditCsvUrl(filters)}>{t('audit.csv')}</DownloadLink>
      </div>
      <AuditFiltersBar
        filters={filters}
        onChange={(next) => {
          setFilters(next);
          setPage(0);
        }}
      />
      <AuditPanel filters={filters} page={page} onPage={setPage} />
    </>
  );
}
