/**
 * Sending in the chat: send, regenerate, edit, retry and stop, and the one stream that may
 * be running. A stream is consumed here as an AsyncGenerator of typed events and written
 * into the store (`store.ts`) only while the view it began in is on screen.
 *
 * Opening another conversation while an answer streams does not stop it: the gateway
 * keeps generating and stores the answer, and the chat just stops showing it.
 */
import type { StoreApi } from 'zustand';
import { clientError, fromEnvelope, toApiError } from '../../api/errors';
import { navigate } from '../../router';
import * as chatApi from './api';
import type { Conversation } from './api';
import { useConversations } from './conversations';
import { answerDraft } from './draft';
import type { ChatRequest, StreamEvent } from './events';
import type { ChatMessage, ChatState } from './store';
import { streamChat } from './stream';

const STOP_GRACE_MS = 4000;
let keySeq = 0;
const newKey = () => `m${++keySeq}`;

export type SendActions = Pick<ChatState, 'send' | 'regenerate' | 'edit' | 'stop' | 'retry'>;

export interface Sending {
  actions: SendActions;
  /** Another view is on screen (a conversation opened, or none): its number. A stream
   * that is still running keeps going, but no longer writes to the store. */
  nextView: () => number;
  onScreen: (view: number) => boolean;
  /** Drop the running stream and the request retry would resend (another user signs in). */
  drop: () => void;
}

function blank(role: ChatMessage['role'], content: string): ChatMessage {
  return {
    key: newKey(),
    id: null,
    role,
    content,
    reasoning: null,
    reasoning_ms: null,
    status: role === 'user' ? 'complete' : 'streaming',
    model: null,
    token_in: null,
    token_out: null,
    ttft_ms: null,
    latency_ms: null,
    tokens_per_s: null,
    error: null,
  };
}

export function createSending(set: StoreApi<ChatState>['setState'], get: StoreApi<ChatState>['getState']): Sending {
  // Which conversation view is on screen; a stream only writes to the view it began in.
  let view = 0;
  let active: { controller: AbortController; requestId: string | null } | null = null;
  let lastRequest: ChatRequest | null = null;

  function baseBody(): ChatRequest {
    const { conversationId, options } = get();
    const body: ChatRequest = { model: options.model };
    if (conversationId !== null) body.conversation_id = conversationId;
    else if (options.systemPrompt) body.system_prompt = options.systemPrompt;
    if (options.temperature !== null) body.temperature = options.temperature;
    if (options.topP !== null) body.top_p = options.topP;
    if (options.maxTokens !== null) body.max_tokens = options.maxTokens;
    return body;
  }

  async function run(body: ChatRequest, before: ChatMessage[], question: string | null) {
    if (active) return;
    const controller = new AbortController();
    active = { controller, requestId: null };
    lastRequest = body;
    const mine = view;
    const onScreen = () => mine === view;
    const user = question === null ? null : blank('user', question);
    const answer = blank('assistant', '');
    set({
      messages: [...before, ...(user ? [user] : []), answer],
      status: 'submitted',
      waiting: null,
      error: null,
      trimmed: 0,
    });
    const update = (key: string, change: (message: ChatMessage) => Partial<ChatMessage>) => {
      if (!onScreen()) return;
      set((state) => ({
        messages: state.messages.map((m) => (m.key === key ? { ...m, ...change(m) } : m)),
      }));
    };
    const draft = answerDraft((change) => update(answer.key, change));
    let done = false;
    try {
      for await (const event of streamChat(body, controller.signal)) {
        if (event.type === 'delta' || event.type === 'reasoning') {
          draft[event.type](event.text);
          if (onScreen() && get().status !== 'streaming') set({ status: 'streaming', waiting: null });
          continue;
        }
        draft.flush();
        done = apply(event, { onScreen, answerKey: answer.key, userKey: user?.key ?? null, update }) || done;
      }
      draft.end();
      if (!done) {
        const stopped = controller.signal.aborted;
        update(answer.key, () =>
          stopped
            ? { status: 'interrupted' }
            : { status: 'error', error: clientError('stream_error', 'The answer ended early') },
        );
      }
    } catch (error) {
      draft.end();
      const apiError = toApiError(error);
      if (onScreen()) {
        // Refused before the stream started: nothing was stored, so the question stays
        // as an unsent bubble and retry sends the same request again.
        set((state) => ({
          messages: state.messages
            .filter((m) => m.key !== answer.key)
            .map((m) => (m.key === user?.key ? { ...m, unsent: true } : m)),
          error: apiError,
        }));
      }
    } finally {
      if (active?.controller === controller) active = null;
      if (onScreen()) set({ status: 'idle', waiting: null });
      void useConversations.getState().load();
    }
  }

  interface Context {
    onScreen: () => boolean;
    answerKey: string;
    userKey: string | null;
    update: (key: string, change: (message: ChatMessage) => Partial<ChatMessage>) => void;
  }

  /** One non-delta event; true when the stream is finished. */
  function apply(event: StreamEvent, ctx: Context): boolean {
    switch (event.type) {
      case 'start': {
        if (active) active.requestId = event.request_id;
        if (!ctx.onScreen()) return false;
        if (ctx.userKey) ctx.update(ctx.userKey, () => ({ id: event.user_message_id }));
        ctx.update(ctx.answerKey, () => ({ model: event.model }));
        set({ trimmed: event.trimmed });
        if (get().conversationId === null) adoptNewConversation(event.conversation_id, event.model);
        return false;
      }
      case 'queue':
        if (ctx.onScreen())
          set({ waiting: { kind: 'queue', position: event.position, estimatedWaitS: event.estimated_wait_s } });
        return false;
      case 'loading':
        if (ctx.onScreen())
          set({
            waiting: {
              kind: 'loading',
              profile: event.profile,
              progress: event.progress,
              message: event.message,
              code: event.code ?? null,
            },
          });
        return false;
      case 'usage':
        ctx.update(ctx.answerKey, (m) => ({
          token_in: event.input_tokens,
          token_out: event.output_tokens,
          ttft_ms: event.ttft_ms,
          latency_ms: event.latency_ms,
          tokens_per_s: event.tokens_per_s,
          reasoning_ms: event.reasoning_ms ?? m.reasoning_ms,
        }));
        return false;
      case 'title': {
        useConversations.getState().setTitle(event.conversation_id, event.title);
        const current = get().conversation;
        if (current?.id === event.conversation_id) set({ conversation: { ...current, title: event.title } });
        return false;
      }
      case 'error':
        ctx.update(ctx.answerKey, () => ({ status: 'error', error: fromEnvelope(event) }));
        return false;
      case 'done':
        if (event.trimmed !== undefined && ctx.onScreen()) set({ trimmed: event.trimmed });
        ctx.update(ctx.answerKey, (m) => ({
          id: event.assistant_message_id,
          status: m.status === 'error' ? 'error' : event.status,
        }));
        return true;
      case 'delta':
      case 'reasoning':
        return false;
    }
  }

  function adoptNewConversation(id: number, model: string) {
    const now = new Date().toISOString();
    const { options } = get();
    const conversation: Conversation = {
      id,
      title: '',
      model,
      system_prompt: options.systemPrompt,
      pinned: false,
      created: now,
      updated: now,
    };
    set({ conversationId: id, conversation });
    useConversations.getState().upsert(conversation);
    navigate(`/c/${id}`, { replace: true });
  }

  const actions: SendActions = {
    send: async (content) => {
      const before = get().messages.filter((m) => !m.unsent);
      await run({ ...baseBody(), content }, before, content);
    },

    regenerate: async () => {
      const { messages, conversationId } = get();
      if (conversationId === null) return;
      const lastUser = messages.map((m) => m.role).lastIndexOf('user');
      if (lastUser === -1) return;
      await run({ ...baseBody(), regenerate: true }, messages.slice(0, lastUser + 1), null);
    },

    edit: async (messageId, content) => {
      const index = get().messages.findIndex((m) => m.id === messageId && m.role === 'user');
      if (index === -1) return;
      const before = get().messages.slice(0, index);
      await run({ ...baseBody(), edit_message_id: messageId, content }, before, content);
    },

    stop: async () => {
      const current = active;
      if (!current) return;
      if (current.requestId === null) {
        current.controller.abort();
        return;
      }
      // Ask the gateway to stop, so it stores the partial answer and ends the stream with
      // `done: interrupted`; drop the connection only if that does not come in time.
      const fallback = setTimeout(() => current.controller.abort(), STOP_GRACE_MS);
      current.controller.signal.addEventListener('abort', () => clearTimeout(fallback));
      try {
        await chatApi.stopGeneration(current.requestId);
      } catch {
        current.controller.abort();
      }
    },

    retry: async () => {
      const { error, messages } = get();
      if (error && lastRequest) {
        const unsent = messages.find((m) => m.unsent);
        const body = { ...lastRequest };
        const { conversationId } = get();
        if (conversationId !== null) body.conversation_id = conversationId;
        await run(body, messages.filter((m) => !m.unsent), unsent ? unsent.content : null);
        return;
      }
      await get().regenerate();
    },
  };

  return {
    actions,
    nextView: () => ++view,
    onScreen: (mine) => mine === view,
    drop: () => {
      view += 1; // whatever is still arriving belongs to a view that is gone
      active?.controller.abort();
      active = null;
      lastRequest = null;
    },
  };
}
