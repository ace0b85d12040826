import { useConversations } from '../../src/features/chat/conversations';
import { usableModel, type ModelEntry } from '../../src/features/chat/models';
import { useChatStore } from '../../src/features/chat/store';
import { envelope, frame, jsonResponse, streamResponse } from './helpers';

type Handler = (init: RequestInit | undefined) => Response | Promise<Response>;

/** fetch answered by path; every call recorded with its parsed JSON body. */
function mockApi(routes: Record<string, Handler>) {
  const calls: { path: string; method: string; body: unknown }[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const path = String(input);
    calls.push({ path, method: init?.method ?? 'GET', body: init?.body ? JSON.parse(init.body as string) : undefined });
    const key = Object.keys(routes).find((prefix) => path === prefix || path.startsWith(`${prefix}?`));
    if (key) return routes[key]!(init);
    if (path.startsWith('/api/conversations?')) return jsonResponse({ data: [], next_before: null });
    return jsonResponse(envelope('no route', 'not_found_error'), 404);
  });
  return calls;
}

const chatCalls = (calls: { path: string; body: unknown }[]) => calls.filter((c) => c.path === '/api/chat').map((c) => c.body);

const start = (extra: Record<string, unknown> = {}) =>
  frame('start', { conversation_id: 5, request_id: 'r1', user_message_id: 10, model: 'default', trimmed: 0, ...extra });

const detail = {
  id: 3,
  title: 'Old chat',
  model: 'fake-model',
  system_prompt: 'Be brief.',
  pinned: false,
  created: '2026-01-01T00:00:00Z',
  updated: '2026-01-01T00:00:00Z',
  messages: [
    { id: 1, parent_id: null, role: 'system', content: 'Be brief.', status: 'complete', model: null, token_in: null, token_out: null, ttft_ms: null, latency_ms: null, created: '2026-01-01T00:00:00Z' },
    { id: 2, parent_id: 1, role: 'user', content: 'Hi', status: 'complete', model: null, token_in: null, token_out: null, ttft_ms: null, latency_ms: null, created: '2026-01-01T00:00:00Z' },
    { id: 3, parent_id: 2, role: 'assistant', content: 'Hello', reasoning: 'They greet me.', reasoning_ms: 1800, status: 'complete', model: 'fake-model', token_in: 3, token_out: 10, ttft_ms: 100, latency_ms: 600, created: '2026-01-01T00:00:00Z' },
  ],
};

beforeEach(async () => {
  window.history.replaceState(null, '', '/');
  useConversations.setState({ items: [], nextBefore: null, q: '' });
  await useChatStore.getState().open(null);
});
afterEach(() => vi.restoreAllMocks());

describe('chat store', () => {
  it('streams a first answer into a new conversation', async () => {
    mockApi({
      '/api/chat': () =>
        streamResponse([
          start(),
          frame('queue', { position: 1, estimated_wait_s: 2 }),
          frame('delta', { text: 'Hello ' }),
          frame('delta', { text: 'world' }),
          frame('usage', { input_tokens: 4, output_tokens: 2, ttft_ms: 20, latency_ms: 120, tokens_per_s: 20 }),
          frame('title', { conversation_id: 5, title: 'Greetings' }),
          frame('done', { assistant_message_id: 11, status: 'complete' }),
        ]),
    });
    await useChatStore.getState().send('Hi there');
    const state = useChatStore.getState();
    expect(state.status).toBe('idle');
    expect(state.waiting).toBeNull();
    expect(state.conversationId).toBe(5);
    expect(state.conversation?.title).toBe('Greetings');
    expect(window.location.pathname).toBe('/c/5');
    expect(state.messages.map((m) => [m.role, m.id, m.content, m.status])).toEqual([
      ['user', 10, 'Hi there', 'complete'],
      ['assistant', 11, 'Hello world', 'complete'],
    ]);
    expect(state.messages[1]).toMatchObject({ token_in: 4, token_out: 2, tokens_per_s: 20, model: 'default' });
  });

  it('streams a reasoning model’s thinking apart from its answer, with the gateway’s duration', async () => {
    mockApi({
      '/api/chat': () =>
        streamResponse([
          start(),
          frame('reasoning', { text: 'r0' }),
          frame('reasoning', { text: ' r1' }),
          frame('delta', { text: 't0' }),
          frame('delta', { text: ' t1' }),
          frame('usage', { input_tokens: 4, output_tokens: 4, ttft_ms: 20, latency_ms: 120, tokens_per_s: 20, reasoning_ms: 3250 }),
          frame('done', { assistant_message_id: 11, status: 'complete' }),
        ]),
    });
    await useChatStore.getState().send('!think 2');
    expect(useChatStore.getState().messages[1]).toMatchObject({
      content: 't0 t1',
      reasoning: 'r0 r1',
      reasoning_ms: 3250,
      status: 'complete',
    });
  });

  it('measures the thinking itself when the gateway gives no duration', async () => {
    const now = vi.spyOn(performance, 'now');
    now.mockReturnValueOnce(1000).mockReturnValueOnce(2400).mockReturnValue(9000);
    mockApi({
      '/api/chat': () =>
        streamResponse([
          start(),
          frame('reasoning', { text: 'r0' }),
          frame('delta', { text: 't0' }),
          frame('usage', { input_tokens: 4, output_tokens: 2, ttft_ms: 20, latency_ms: 120, tokens_per_s: 20 }),
          frame('done', { assistant_message_id: 11, status: 'complete' }),
        ]),
    });
    await useChatStore.getState().send('!think 1');
    expect(useChatStore.getState().messages[1]).toMatchObject({ content: 't0', reasoning: 'r0', reasoning_ms: 1400 });
  });

  it('leaves an answer without thinking without reasoning', async () => {
    mockApi({
      '/api/chat': () =>
        streamResponse([
          start(),
          frame('delta', { text: 'plain' }),
          frame('usage', { input_tokens: 4, output_tokens: 1, ttft_ms: 20, latency_ms: 120, tokens_per_s: 20, reasoning_ms: null }),
          frame('done', { assistant_message_id: 11, status: 'complete' }),
        ]),
    });
    await useChatStore.getState().send('Hi');
    expect(useChatStore.getState().messages[1]).toMatchObject({ content: 'plain', reasoning: null, reasoning_ms: null });
  });

  it('shows an in-stream error on the answer and keeps its partial text', async () => {
    mockApi({
      '/api/chat': () =>
        streamResponse([start(), frame('delta', { text: 'part' }), frame('error', envelope('engine died')), frame('done', { assistant_message_id: 11, status: 'error' })]),
    });
    await useChatStore.getState().send('Hi');
    const answer = useChatStore.getState().messages[1]!;
    expect(answer.status).toBe('error');
    expect(answer.content).toBe('part');
    expect(answer.error?.message).toBe('engine died');
  });

  it('marks an answer whose stream ends without done as broken', async () => {
    mockApi({ '/api/chat': () => streamResponse([start(), frame('delta', { text: 'cut' })]) });
    await useChatStore.getState().send('Hi');
    expect(useChatStore.getState().messages[1]).toMatchObject({ status: 'error', content: 'cut' });
    expect(useChatStore.getState().messages[1]!.error?.type).toBe('stream_error');
  });

  it('keeps a refused question as unsent, and retry sends the same request', async () => {
    let refuse = true;
    const calls = mockApi({
      '/api/chat': () =>
        refuse
          ? jsonResponse(envelope('engine is loading', 'server_error', 'engine_unavailable'), 503, { 'Retry-After': '3' })
          : streamResponse([start(), frame('delta', { text: 'ok' }), frame('done', { assistant_message_id: 11, status: 'complete' })]),
    });
    await useChatStore.getState().send('Hello?');
    let state = useChatStore.getState();
    expect(state.error).toMatchObject({ status: 503, retryAfter: 3, code: 'engine_unavailable' });
    expect(state.messages).toHaveLength(1);
    expect(state.messages[0]).toMatchObject({ role: 'user', content: 'Hello?', unsent: true });

    refuse = false;
    await useChatStore.getState().retry();
    state = useChatStore.getState();
    expect(state.error).toBeNull();
    expect(state.messages.map((m) => [m.role, m.content, m.unsent ?? false])).toEqual([
      ['user', 'Hello?', false],
      ['assistant', 'ok', false],
    ]);
    expect(chatCalls(calls)).toEqual([
      { model: 'default', content: 'Hello?' },
      { model: 'default', content: 'Hello?' },
    ]);
  });

  it('stop asks the gateway to stop, which ends the answer as interrupted', async () => {
    let push: ((text: string) => void) | null = null;
    let close: (() => void) | null = null;
    const calls = mockApi({
      '/api/chat': () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (text) => controller.enqueue(new TextEncoder().encode(text));
            close = () => controller.close();
          },
        });
        return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
      },
      '/api/chat/r1/stop': () => {
        push!(frame('done', { assistant_message_id: 11, status: 'interrupted' }));
        close!();
        return new Response(null, { status: 204 });
      },
    });
    const sending = useChatStore.getState().send('long answer please');
    await vi.waitFor(() => expect(push).not.toBeNull());
    push!(start() + frame('delta', { text: 't0 t1' }));
    await vi.waitFor(() => expect(useChatStore.getState().messages[1]?.content).toBe('t0 t1'));
    expect(useChatStore.getState().status).toBe('streaming');
    await useChatStore.getState().stop();
    await sending;
    expect(calls.some((c) => c.path === '/api/chat/r1/stop' && c.method === 'POST')).toBe(true);
    expect(useChatStore.getState().messages[1]).toMatchObject({ status: 'interrupted', content: 't0 t1', id: 11 });
    expect(useChatStore.getState().status).toBe('idle');
  });

  it('opens a conversation: its thread without the system message, its model and prompt', async () => {
    mockApi({ '/api/conversations/3': () => jsonResponse(detail) });
    await useChatStore.getState().open(3);
    const state = useChatStore.getState();
    expect(state.messages.map((m) => m.id)).toEqual([2, 3]);
    expect(state.options).toMatchObject({ model: 'fake-model', systemPrompt: 'Be brief.' });
    expect(state.messages[1]!.tokens_per_s).toBeCloseTo(20); // 10 tokens in 500 ms after the first
    expect(state.messages[1]).toMatchObject({ content: 'Hello', reasoning: 'They greet me.', reasoning_ms: 1800 });
    expect(state.messages[0]).toMatchObject({ reasoning: null, reasoning_ms: null });
  });

  it('regenerate re-asks the last question and replaces the answer', async () => {
    const calls = mockApi({
      '/api/conversations/3': () => jsonResponse(detail),
      '/api/chat': () =>
        streamResponse([start({ conversation_id: 3, user_message_id: 2 }), frame('delta', { text: 'Hi again' }), frame('done', { assistant_message_id: 4, status: 'complete' })]),
    });
    await useChatStore.getState().open(3);
    await useChatStore.getState().regenerate();
    expect(chatCalls(calls)).toEqual([{ model: 'fake-model', conversation_id: 3, regenerate: true }]);
    expect(useChatStore.getState().messages.map((m) => [m.id, m.content])).toEqual([
      [2, 'Hi'],
      [4, 'Hi again'],
    ]);
  });

  it('edit resends from the edited question, dropping what followed', async () => {
    const calls = mockApi({
      '/api/conversations/3': () => jsonResponse(detail),
      '/api/chat': () =>
        streamResponse([start({ conversation_id: 3, user_message_id: 12 }), frame('delta', { text: 'Better' }), frame('done', { assistant_message_id: 13, status: 'complete' })]),
    });
    await useChatStore.getState().open(3);
    await useChatStore.getState().edit(2, 'Hi, in Korean');
    expect(chatCalls(calls)).toEqual([{ model: 'fake-model', conversation_id: 3, edit_message_id: 2, content: 'Hi, in Korean' }]);
    expect(useChatStore.getState().messages.map((m) => [m.role, m.id, m.content])).toEqual([
      ['user', 12, 'Hi, in Korean'],
      ['assistant', 13, 'Better'],
    ]);
  });

  it('an answer that streams on after the user opened another chat stays out of it', async () => {
    let push: ((text: string) => void) | null = null;
    let close: (() => void) | null = null;
    mockApi({
      '/api/conversations/3': () => jsonResponse(detail),
      '/api/chat': () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (text) => controller.enqueue(new TextEncoder().encode(text));
            close = () => controller.close();
          },
        });
        return new Response(body);
      },
    });
    const sending = useChatStore.getState().send('first');
    await vi.waitFor(() => expect(push).not.toBeNull());
    push!(start({ conversation_id: 9 }));
    await useChatStore.getState().open(3);
    push!(frame('delta', { text: 'late words' }) + frame('done', { assistant_message_id: 20, status: 'complete' }));
    close!();
    await sending;
    expect(useChatStore.getState().messages.map((m) => m.content)).toEqual(['Hi', 'Hello']);
    expect(useChatStore.getState().status).toBe('idle');
  });
});

// What GET /v1/models answers a user whose groups allow only `small` (served as `small`
// and `small-chat`): the active model (`default`) is not among them.
const card = (id: string, root: string): ModelEntry => ({
  id,
  object: 'model',
  created: 1767225600,
  owned_by: 'gpuchat',
  root,
  ready: true,
  defaults: {},
  has_system_prompt: false,
  system_prompt: null,
});
const narrow = [card('small', 'small'), card('small-chat', 'small')];

describe('the model a chat starts on', () => {
  it('is the one wanted when allowed, else the first allowed, and waits for the list', () => {
    expect(usableModel('small-chat', narrow)).toBe('small-chat');
    expect(usableModel('default', narrow)).toBe('small');
    expect(usableModel('default', [])).toBe('default');
  });

  it('a new chat leaves a default the groups do not allow, and sends the allowed one', async () => {
    const calls = mockApi({
      '/api/chat': () => streamResponse([start({ model: 'small' }), frame('done', { assistant_message_id: 11, status: 'complete' })]),
    });
    expect(useChatStore.getState().options.model).toBe('default');
    useChatStore.getState().keepModelUsable(narrow);
    expect(useChatStore.getState().options.model).toBe('small');
    await useChatStore.getState().send('Hi');
    expect(chatCalls(calls)).toEqual([expect.objectContaining({ model: 'small' })]);
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false); // nothing saved for it
  });

  it('keeps an opened conversation’s allowed model, and waits while it loads', async () => {
    mockApi({ '/api/conversations/3': () => jsonResponse({ ...detail, model: 'small-chat' }) });
    const opening = useChatStore.getState().open(3);
    useChatStore.getState().keepModelUsable(narrow); // its model is not known yet
    expect(useChatStore.getState().options.model).toBe('default');
    await opening;
    useChatStore.getState().keepModelUsable(narrow);
    expect(useChatStore.getState().options.model).toBe('small-chat');
  });
});
