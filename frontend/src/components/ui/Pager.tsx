import type { ReactNode } from 'react';
import { useT } from '../../i18n';
import { Button } from './Button';

/** Under a paged table: what it holds (`summary`), and the previous / next page buttons. */
export function Pager({
  summary,
  page,
  pageSize,
  total,
  onPage,
}: {
  summary: ReactNode;
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
}) {
  const t = useT();
  return (
    <div className="mt-2 flex items-center justify-between text-sm text-zinc-500">
      <span>{summary}</span>
      <span className="flex gap-2">
        <Button size="sm" disabled={page === 0} onClick={() => onPage(page - 1)}>
          {t('common.previous')}
        </Button>
        <Button size="sm" disabled={(page + 1) * pageSize >= total} onClick={() => onPage(page + 1)}>
          {t('common.next')}
        </Button>
      </span>
    </div>
  );
}
