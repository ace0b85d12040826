import { useEffect, useState } from 'react';
import { ApiError } from '../../api/errors';
import { fetchUsage, type UsageFilters, type UsageReport } from './api';

export interface UsageState {
  report: UsageReport | null;
  error: unknown;
  /** The gateway has no such route (yet): show "not available" rather than an error. */
  unavailable: boolean;
  loading: boolean;
}

export function useUsage(scope: 'admin' | 'me', filters: UsageFilters, refresh = 0): UsageState {
  const [state, setState] = useState<UsageState>({ report: null, error: null, unavailable: false, loading: true });
  const key = JSON.stringify(filters);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fetchUsage(scope, JSON.parse(key) as UsageFilters)
      .then((report) => live && setState({ report, error: null, unavailable: false, loading: false }))
      .catch((error: unknown) => {
        if (!live) return;
        const missing = error instanceof ApiError && (error.status === 404 || error.status === 405);
        setState({ report: null, error: missing ? null : error, unavailable: missing, loading: false });
      });
    return () => {
      live = false;
    };
  }, [scope, key, refresh]);
  return state;
}
