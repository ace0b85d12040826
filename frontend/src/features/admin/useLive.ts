import { useState } from 'react';
import type { LiveSnapshot } from './api';
import { useSseJson, type SseState } from './useSseJson';

/** The admin live feed: one snapshot a second (engines, GPUs, queues, streams). */
export function useLive(): SseState & { snapshot: LiveSnapshot | null } {
  const [snapshot, setSnapshot] = useState<LiveSnapshot | null>(null);
  const state = useSseJson<LiveSnapshot>('/api/admin/live?interval=1', setSnapshot);
  return { ...state, snapshot };
}
