import { useEffect, useRef, useState } from 'react';
import {
  fetchQuota,
  fetchSeries,
  fetchUsage,
  type Bucket,
  type MyQuota,
  type Scope,
  type UsageFilters,
  type UsageReport,
  type UsageSeries,
} from './api';

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  /** An answer for the current request is on its way (the last one stays shown meanwhile). */
  loading: boolean;
}

interface Answer<T> {
  /** The request it answers (its key). */
  request: string;
  data: T | null;
  error: unknown;
}

/** Loads `load()` whenever `request` (a key naming what is asked) changes; a late answer
 * to an older request is dropped. */
function useAnswer<T>(request: string, load: () => Promise<T>): Loaded<T> {
  const [answer, setAnswer] = useState<Answer<T>>({ request: '', data: null, error: null });
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  });
  useEffect(() => {
    let live = true;
    loader.current().then(
      (data) => live && setAnswer({ request, data, error: null }),
      (error: unknown) => live && setAnswer({ request, data: null, error }),
    );
    return () => {
      live = false;
    };
  }, [request]);
  return { data: answer.data, error: answer.error, loading: answer.request !== request };
}

export interface UsageState {
  report: UsageReport | null;
  error: unknown;
  loading: boolean;
}

export function useUsage(scope: Scope, filters: UsageFilters, refresh = 0): UsageState {
  const answer = useAnswer(JSON.stringify(['report', scope, filters, refresh]), () => fetchUsage(scope, filters));
  return { report: answer.data, error: answer.error, loading: answer.loading };
}

export function useSeries(scope: Scope, filters: UsageFilters, bucket: Bucket): Loaded<UsageSeries> {
  const { group_by: _group, ...rest } = filters;
  return useAnswer(JSON.stringify(['series', scope, rest, bucket]), () => fetchSeries(scope, filters, bucket));
}

export const useQuota = (refresh = 0): Loaded<MyQuota> => useAnswer(`quota:${refresh}`, fetchQuota);
