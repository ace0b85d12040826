import { UNAUTHORIZED_EVENT } from '../../src/api/client';
import { ApiError } from '../../src/api/errors';
import type { StreamEvent } from '../../src/features/chat/events';
import { decodeFrame, readChatEvents, streamChat } from '../../src/features/chat/stream';
import { bodyOf, collect, envelope, frame, jsonResponse, streamResponse } from './helpers';

const EVERY_EVENT: StreamEvent[] = [
  { type: 'start', conversation_id: 3, request_id: 'r1', user_message_id: 10, model: 'default', trimmed: 2 },
  { type: 'queue', position: 2, estimated_wait_s: 4.5 },
  { type: 'loading', profile: 'local', progress: 0.4, message: 'loading weights' },
  { type: 'reasoning', text: 'r0 r1' },
  { type: 'delta', text: '안녕' },
  { type: 'usage', input_tokens: 5, output_tokens: 7, ttft_ms: 30, latency_ms: 300, tokens_per_s: 25.9, reasoning_ms: 1250 },
  { type: 'title', conversation_id: 3, title: 'Greeting' },
  { type: 'error', ...envelope('engine died') },
  { type: 'done', assistant_message_id: 11, status: 'error' },
];

function wire(events: StreamEvent[]): string {
  return events.map(({ type, ...data }) => frame(type, data)).join('');
}

describe('readChatEvents', () => {
  it('decodes every event type of the contract', async () => {
    expect(await collect(readChatEvents(bodyOf([wire(EVERY_EVENT)])))).toEqual(EVERY_EVENT);
  });

  it('ignores comments and unknown event types', async () => {
    const body = `: keep-alive\n\n${frame('future', { x: 1 })}${frame('delta', { text: 'a' })}`;
    expect(await collect(readChatEvents(bodyOf([body])))).toEqual([{ type: 'delta', text: 'a' }]);
  });

  it('turns a malformed known event into a stream error', async () => {
    const events = await collect(
      readChatEvents(bodyOf(['event: delta\ndata: {not json\n\n', frame('delta', { nope: 1 }), frame('reasoning', { text: 3 })])),
    );
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event.type).toBe('error');
      if (event.type === 'error') expect(event.error.type).toBe('stream_error');
    }
  });

  it('reads an OpenAI-style bare error frame as an error event', () => {
    const event = decodeFrame({ event: 'message', data: JSON.stringify(envelope('boom', 'server_error')) });
    expect(event).toEqual({ type: 'error', ...envelope('boom', 'server_error') });
    expect(decodeFrame({ event: 'message', data: '{"choices":[]}' })).toBeNull();
  });

  it('reports a connection that breaks mid-stream as a stream error', async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new TextEncoder().encode(frame('delta', { text: 'a' })));
        else controller.error(new TypeError('network error'));
      },
    });
    const seen: StreamEvent[] = [];
    await expect(
      (async () => {
        for await (const event of readChatEvents(body)) seen.push(event);
      })(),
    ).rejects.toMatchObject({ type: 'stream_error' });
    expect(seen).toEqual([{ type: 'delta', text: 'a' }]);
  });
});

describe('streamChat', () => {
  afterEach(() => vi.restoreAllMocks());

  it('posts the request as JSON with the session cookie', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(streamResponse([frame('delta', { text: 'hi' })]));
    const events = await collect(streamChat({ content: 'hello', model: 'default' }, new AbortController().signal));
    expect(events).toEqual([{ type: 'delta', text: 'hi' }]);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/chat');
    expect(init?.method).toBe('POST');
    expect(init?.credentials).toBe('same-origin');
    expect(JSON.parse(init?.body as string)).toEqual({ content: 'hello', model: 'default' });
  });

  it('throws the envelope of an error before the stream, with Retry-After', async () => {
    vi.spyOn(globalThis, 'fetch').mockResolvedValue(
      jsonResponse(envelope('slow down', 'rate_limit_error', 'rate_limited'), 429, { 'Retry-After': '7' }),
    );
    const error = await collect(streamChat({ content: 'x' }, new AbortController().signal)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'rate_limited', retryAfter: 7, message: 'slow down' });
  });

  it('announces a 401 so the app can return to the login page', async () => {
    vi.spyOn(globalThis, 'fetch').mockResolvedValue(jsonResponse(envelope('no session', 'authentication_error'), 401));
    const listener = vi.fn();
    window.addEventListener(UNAUTHORIZED_EVENT, listener);
    await collect(streamChat({ content: 'x' }, new AbortController().signal)).catch(() => undefined);
    window.removeEventListener(UNAUTHORIZED_EVENT, listener);
    expect(listener).toHaveBeenCalledOnce();
  });

  it('ends without error when aborted before the answer', async () => {
    const controller = new AbortController();
    vi.spyOn(globalThis, 'fetch').mockImplementation(() => {
      controller.abort();
      return Promise.reject(new DOMException('aborted', 'AbortError'));
    });
    expect(await collect(streamChat({ content: 'x' }, controller.signal))).toEqual([]);
  });
});
