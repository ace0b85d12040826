/**
 * `POST /api/chat` read as an `AsyncGenerator<StreamEvent>`. HTTP errors before the
 * stream starts throw an ApiError (from the envelope); inside the stream an error is an
 * `error` event. Unknown event types are skipped, so the gateway can add new ones.
 * Aborting the signal ends the generator quietly.
 */
import { request } from '../../api/client';
import { clientError, isAbort, isErrorEnvelope } from '../../api/errors';
import { readSseFrames, type SseFrame } from '../../api/sse';
import { STREAM_EVENT_TYPES, type ChatRequest, type StreamEvent } from './events';

export async function* streamChat(
  body: ChatRequest,
  signal: AbortSignal,
): AsyncGenerator<StreamEvent> {
  let response: Response;
  try {
    response = await request('/api/chat', {
      method: 'POST',
      body,
      signal,
      accept: 'text/event-stream',
    });
  } catch (error) {
    if (isAbort(error)) return;
    throw error;
  }
  if (!response.body) throw clientError('stream_error', 'The answer has no body');
  yield* readChatEvents(response.body, signal);
}

export async function* readChatEvents(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<StreamEvent> {
  try {
    for await (const frame of readSseFrames(body, signal)) {
      const event = decodeFrame(frame);
      if (event) yield event;
    }
  } catch (error) {
    if (isAbort(error) || signal?.aborted) return;
    throw clientError('stream_error', error instanceof Error ? error.message : String(error));
  }
}

export function decodeFrame(frame: SseFrame): StreamEvent | null {
  const known = STREAM_EVENT_TYPES.has(frame.event);
  if (!known && frame.event !== 'message') return null;
  let data: unknown;
  try {
    data = JSON.parse(frame.data);
  } catch {
    if (!known) return null;
    return streamError(`Malformed ${frame.event} event`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return known ? streamError(`Malformed ${frame.event} event`) : null;
  }
  // A bare `data: {"error": …}` frame (the OpenAI-style in-stream error) is an error too.
  if (frame.event === 'message') {
    return isErrorEnvelope(data) ? { type: 'error', error: data.error, source: data.source } : null;
  }
  if (frame.event === 'error' && !isErrorEnvelope(data)) return streamError('Malformed error');
  const textual = frame.event === 'delta' || frame.event === 'reasoning';
  if (textual && typeof (data as { text?: unknown }).text !== 'string') {
    return streamError(`Malformed ${frame.event} event`);
  }
  return { ...(data as object), type: frame.event } as StreamEvent;
}

function streamError(message: string): StreamEvent {
  return {
    type: 'error',
    error: { message, type: 'stream_error', code: null, param: null },
    source: 'gateway',
  };
}
