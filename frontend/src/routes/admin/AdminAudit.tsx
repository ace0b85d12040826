import { Download } from 'lucide-react';
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
        <a
          href={auditCsvUrl(filters)}
          download
          className="inline-flex items-center gap-1.5 rounded-lg border border-zinc-300 bg-white px-3.5 py-2 text-sm font-medium hover:bg-zinc-50 dark:border-zinc-600 dark:bg-zinc-800 dark:hover:bg-zinc-700"
        >
          <Download aria-hidden className="h-4 w-4" />
          {t('audit.csv')}
        </a>
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
