import { Download } from 'lucide-react';
import type { ReactNode } from 'react';

/** A file download that looks like a secondary button (the CSV exports). */
export function DownloadLink({ href, children }: { href: string; children: ReactNode }) {
  return (
    <a
      href={href}
      download
      className="inline-flex items-center gap-1.5 rounded-lg border border-zinc-300 bg-white px-3.5 py-2 text-sm font-medium hover:bg-zinc-50 dark:border-zinc-600 dark:bg-zinc-800 dark:hover:bg-zinc-700"
    >
      <Download aria-hidden className="h-4 w-4" />
      {children}
    </a>
  );
}
