import { useEffect, useState } from 'react';
import { fetchUsage, type UsageFilters, type UsageReport } from './api';

export interface UsageState {
  report: UsageReport | null;
  error: unknown;
  /** A report for the current filters is on its way (the last one stays shown meanwhile). */
  loading: boolean;
}

interface Answer {
  /** The request it answers: scope, filters and refresh count. */
  request: string;
  report: UsageReport | null;
  error: unknown;
}

export function useUsage(scope: 'admin' | 'me', filters: UsageFilters, refresh = 0): UsageState {
  const request = JSON.stringify([scope, filters, refresh]);
  const [answer, setAnswer] = useState<Answer>({ request: '', report: null, error: null });
  useEffect(() => {
    let live = true;
    const [askedScope, askedFilters] = JSON.parse(request) as [typeof scope, UsageFilters];
    fetchUsage(askedScope, askedFilters).then(
      (report) => live && setAnswer({ request, report, error: null }),
      (error: unknown) => live && setAnswer({ request, report: null, error }),
    );
    return () => {
      live = false;
    };
  }, [request]);
  return { report: answer.report, error: answer.error, loading: answer.request !== request };
}
