/**
 * Follow an SSE endpoint whose frames are JSON (`/api/admin/live`, an engine's log):
 * reconnects with backoff after a drop, stops on unmount, and gives up on an answer that
 * a retry cannot change (401, 403, 404), reporting it as `error`.
 */
import { useEffect, useEffectEvent, useState } from 'react';
import { request } from '../../api/client';
import { ApiError, isAbort } from '../../api/errors';
import { readSseFrames } from '../../api/sse';

export interface SseState {
  connected: boolean;
  error: unknown;
}

const FINAL = new Set([401, 403, 404]);

export function useSseJson<T>(url: string | null, onMessage: (data: T) => void): SseState {
  const [state, setState] = useState<SseState>({ connected: false, error: null });
  // The latest handler, without reconnecting when the caller passes a new function.
  const onFrame = useEffectEvent((data: T) => onMessage(data));

  useEffect(() => {
    if (url === null) return;
    const controller = new AbortController();
    let delay = 500;
    const loop = async () => {
      while (!controller.signal.aborted) {
        try {
          const response = await request(url, { signal: controller.signal, accept: 'text/event-stream' });
          setState({ connected: true, error: null });
          delay = 500;
          for await (const frame of readSseFrames(response.body as ReadableStream<Uint8Array>, controller.signal)) {
            let data: T;
            try {
              data = JSON.parse(frame.data) as T;
            } catch {
              continue; // A frame that is not JSON is skipped; the next snapshot replaces it.
            }
            onFrame(data);
          }
        } catch (error) {
          if (isAbort(error) || controller.signal.aborted) return;
          if (error instanceof ApiError && FINAL.has(error.status)) {
            setState({ connected: false, error });
            return;
          }
          setState({ connected: false, error });
        }
        if (controller.signal.aborted) return;
        setState((s) => ({ ...s, connected: false }));
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 10000);
      }
    };
    void loop();
    return () => controller.abort();
  }, [url]);

  return state;
}
