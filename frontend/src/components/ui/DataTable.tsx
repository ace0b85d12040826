import type { ReactNode } from 'react';
import { useT } from '../../i18n';

export interface Column {
  label: ReactNode;
  /** Numbers line up on the right. */
  numeric?: boolean;
}

/**
 * The app's one table: scrolls sideways on narrow screens, headed by `columns`, with an
 * unlabelled (screen-reader only) actions column at the end when `actions` is set. The
 * rows are the children, one `<tr>` each.
 */
export function DataTable({
  label,
  columns,
  actions = false,
  children,
}: {
  label?: string;
  columns: Column[];
  actions?: boolean;
  children: ReactNode;
}) {
  const t = useT();
  return (
    <div className="overflow-x-auto">
      <table className="data-table" aria-label={label}>
        <thead>
          <tr>
            {columns.map((column, index) => (
              <th key={index} className={column.numeric ? 'text-right' : 'text-left'}>
                {column.label}
              </th>
            ))}
            {actions ? (
              <th className="text-right">
                <span className="sr-only">{t('common.actions')}</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
