import { useEffect, useRef, useState } from 'react';

export interface FilteredPage<F, D> {
  filters: F;
  /** New filters go back to the first page. */
  setFilters: (filters: F) => void;
  /** What a `Pager` under the list needs besides `summary` and `total`. */
  pager: { page: number; pageSize: number; onPage: (page: number) => void };
  /** The last answer, kept on screen while the next one loads; null before the first
   * and after an error. */
  data: D | null;
  error: unknown;
  /** An answer for the current filters and page is on its way. */
  loading: boolean;
  /** Ask again for the same filters and page (after an error). */
  reload: () => void;
}

interface Answer<D> {
  /** The request it answers (its key). */
  request: string;
  data: D | null;
  error: unknown;
}

/**
 * An admin list's filters and page, and the answer for them (`load(filters, limit,
 * offset)`). The request goes `wait` ms after the last change, so typing in a filter asks
 * once rather than per key; a late answer to an older request is dropped.
 */
export function useFilteredPage<F, D>(
  initial: F,
  load: (filters: F, limit: number, offset: number) => Promise<D>,
  { pageSize = 50, wait = 200 }: { pageSize?: number; wait?: number } = {},
): FilteredPage<F, D> {
  const [asked, setAsked] = useState({ filters: initial, page: 0, reloads: 0 });
  const request = JSON.stringify(asked);
  const [answer, setAnswer] = useState<Answer<D>>({ request: '', data: null, error: null });
  const loader = useRef(() => load(asked.filters, pageSize, asked.page * pageSize));
  useEffect(() => {
    loader.current = () => load(asked.filters, pageSize, asked.page * pageSize);
  });
  useEffect(() => {
    let live = true;
    const ask = () => {
      loader.current().then(
        (data) => live && setAnswer({ request, data, error: null }),
        (error: unknown) => live && setAnswer({ request, data: null, error }),
      );
    };
    let timer: number | undefined;
    if (wait > 0) timer = window.setTimeout(ask, wait);
    else ask();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [request, wait]);

  const setPage = (page: number) => setAsked((now) => ({ ...now, page }));
  return {
    filters: asked.filters,
    setFilters: (filters) => setAsked((now) => ({ ...now, filters, page: 0 })),
    pager: { page: asked.page, pageSize, onPage: setPage },
    data: answer.data,
    error: answer.error,
    loading: answer.request !== request,
    reload: () => setAsked((now) => ({ ...now, reloads: now.reloads + 1 })),
  };
}
