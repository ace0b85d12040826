/**
 * The chat's state in one place: the open conversation, its messages, and the one
 * stream that may be running (status, queue/loading, stop, retry). Components read it
 * through `useChat`; the stream is consumed here as an AsyncGenerator of typed events.
 *
 * Opening another conversation while an answer streams does not stop it: the gateway
 * keeps generating and stores the answer, and this store just stops showing it.
 */
import { create } from 'zustand';
import { onUserChange } from '../auth/userData';
import { type ApiError, clientError, fromEnvelope, toApiError } from '../../api/errors';
import { navigate } from '../../router';
import { useSession } from '../auth/session';
import * as chatApi from './api';
import type { Conversation, Message } from './api';
import { useConversations } from './conversations';
import type { ChatRequest, MessageStatus, StreamEvent } from './events';
import { answerDraft } from './draft';
import { streamChat } from './stream';
import type { AnswerFeedback } from '../feedback/api';

export type ChatStatus = 'idle' | 'loading' | 'submitted' | 'streaming';

export interface ChatMessage {
  key: string;
  id: number | null;
  role: 'user' | 'assistant';
  /** The answer only; a reasoning model's thinking is in `reasoning`. */
  content: string;
  reasoning: string | null;
  /** How long the model thought (the gateway's figure, else measured here). */
  reasoning_ms: number | null;
  status: MessageStatus | 'streaming';
  model: string | null;
  token_in: number | null;
  token_out: number | null;
  ttft_ms: number | null;
  latency_ms: number | null;
  tokens_per_s: number | null;
  error: ApiError | null;
  /** The user's thumbs up or down on an answer, as stored (absent: none yet). */
  feedback?: AnswerFeedback | null;
  /** A question the gateway refused before storing it (shown with the error, resent by retry). */
  unsent?: boolean;
}

export type Waiting =
  | { kind: 'queue'; position: number; estimatedWaitS: number | null }
  | { kind: 'loading'; profile: string; progress: number | null; message: string; code: string | null };

export interface ChatOptions {
  model: string;
  systemPrompt: string;
  temperature: number | null;
  topP: number | null;
  maxTokens: number | null;
}

export interface ChatState {
  conversationId: number | null;
  conversation: Conversation | null;
  messages: ChatMessage[];
  status: ChatStatus;
  waiting: Waiting | null;
  trimmed: number;
  error: ApiError | null;
  options: ChatOptions;
  open: (id: number | null) => Promise<void>;
  setOptions: (changes: Partial<ChatOptions>) => Promise<void>;
  send: (content: string) => Promise<void>;
  regenerate: () => Promise<void>;
  edit: (messageId: number, content: string) => Promise<void>;
  stop: () => Promise<void>;
  retry: () => Promise<void>;
  /** Forget everything (another user signs in): the stream is dropped, nothing kept. */
  reset: () => void;
}

const STOP_GRACE_MS = 4000;
let keySeq = 0;
const newKey = () => `m${++keySeq}`;

/** A chat with nothing open: how the store starts, and what a sign-out leaves. */
function emptyView() {
  return {
    conversationId: null,
    conversation: null,
    messages: [],
    status: 'idle' as const,
    waiting: null,
    trimmed: 0,
    error: null,
    options: defaultOptions(),
  };
}

export function defaultOptions(): ChatOptions {
  const settings = useSession.getState().me?.settings;
  return {
    model: settings?.model || 'default',
    systemPrompt: settings?.system_prompt ?? '',
    temperature: settings?.temperature ?? null,
    topP: settings?.top_p ?? null,
    maxTokens: settings?.max_tokens ?? null,
  };
}

export function fromServer(message: Message): ChatMessage {
  return {
    key: `s${message.id}`,
    id: message.id,
    role: message.role === 'user' ? 'user' : 'assistant',
    content: message.content,
    reasoning: message.reasoning || null,
    reasoning_ms: message.reasoning_ms ?? null,
    status: message.status,
    model: message.model,
    token_in: message.token_in,
    token_out: message.token_out,
    ttft_ms: message.ttft_ms,
    latency_ms: message.latency_ms,
    tokens_per_s: speed(message.token_out, message.latency_ms, message.ttft_ms),
    error: null,
    feedback: message.feedback ? { rating: message.feedback.rating, comment: message.feedback.comment } : null,
  };
}

function speed(tokens: number | null, latency: number | null, ttft: number | null) {
  if (!tokens || !latency) return null;
  const generating = latency - (ttft ?? 0);
  return generating > 0 ? (tokens * 1000) / generating : null;
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

export const useChatStore = create<ChatState>((set, get) => {
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

  return {
    ...emptyView(),

    open: async (id) => {
      if (id !== null && id === get().conversationId) return;
      const mine = ++view;
      if (id === null) {
        set(emptyView());
        return;
      }
      const { options: _kept, ...reset } = emptyView();
      set({ ...reset, conversationId: id, status: 'loading' });
      try {
        const detail = await chatApi.fetchConversation(id);
        if (mine !== view) return;
        const { messages, ...conversation } = detail;
        set({
          conversation,
          messages: messages.filter((m) => m.role !== 'system').map(fromServer),
          status: 'idle',
          options: { ...get().options, model: detail.model || get().options.model, systemPrompt: detail.system_prompt },
        });
      } catch (error) {
        if (mine === view) set({ status: 'idle', error: toApiError(error) });
      }
    },

    setOptions: async (changes) => {
      set({ options: { ...get().options, ...changes } });
      const { conversationId } = get();
      if (conversationId === null) return;
      const saved: chatApi.ConversationChanges = {};
      if (changes.model !== undefined) saved.model = changes.model;
      if (changes.systemPrompt !== undefined) saved.system_prompt = changes.systemPrompt;
      if (Object.keys(saved).length === 0) return;
      const updated = await useConversations.getState().change(conversationId, saved);
      if (get().conversationId === conversationId) set({ conversation: updated });
    },

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

    reset: () => {
      view += 1; // whatever is still arriving belongs to a view that is gone
      active?.controller.abort();
      active = null;
      lastRequest = null;
      set(emptyView());
    },
  };
});

onUserChange(() => useChatStore.getState().reset());
