import type { ReactNode } from 'react';
import { DownloadLink } from '../../components/ui/DownloadLink';

/**
 * An admin page that lists what its filters select (usage, feedback, audit log): the
 * title with the CSV download of that selection, the filters, then the list. The state
 * behind it is `useFilteredPage`.
 */
export function FilteredPage({
  title,
  csv,
  filters,
  children,
}: {
  title: string;
  csv: { href: string; label: string };
  filters: ReactNode;
  children: ReactNode;
}) {
  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{title}</h1>
        <DownloadLink href={csv.href}>{csv.label}</DownloadLink>
      </div>
      {filters}
      {children}
    </>
  );
}
