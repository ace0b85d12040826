/**
 * Follow an SSE endpoint whose frames are JSON (`/api/admin/live`, an engine's log):
 * reconnects with backoff after a drop, stops on unmount, and reports a 404 as
 * `unavailable` (a gateway without that route) instead of retrying forever.
 */
import { useEffect, useRef, useState } from 'react';
import { request } from '../../api/client';
import { ApiError, isAbort } from '../../api/errors';
import { readSseFrames } from '../../api/sse';

export interface SseState {
  connected: boolean;
  unavailable: boolean;
  error: unknown;
}

export function useSseJson<T>(url: string | null, onMessage: (data: T) => void): SseState {
  const [state, setState] = useState<SseState>({ connected: false, unavailable: false, error: null });
  const handler = useRef(onMessage);
  handler.current = onMessage;

  useEffect(() => {
    if (url === null) return;
    const controller = new AbortController();
    let delay = 500;
    const loop = async () => {
      while (!controller.signal.aborted) {
        try {
          const response = await request(url, { signal: controller.signal, accept: 'text/event-stream' });
          setState({ connected: true, unavailable: false, error: null });
          delay = 500;
          for await (const frame of readSseFrames(response.body as ReadableStream<Uint8Array>, controller.signal)) {
            try {
              handler.current(JSON.parse(frame.data) as T);
            } catch {
              // A frame that is not JSON is skipped; the next snapshot replaces it.
            }
          }
        } catch (error) {
          if (isAbort(error) || controller.signal.aborted) return;
          if (error instanceof ApiError && (error.status === 404 || error.status === 401 || error.status === 403)) {
            setState({ connected: false, unavailable: error.status === 404, error: error.status === 404 ? null : error });
            return;
          }
          setState({ connected: false, unavailable: false, error });
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
