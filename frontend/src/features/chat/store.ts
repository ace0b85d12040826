/**
 * The chat's state in one place: the open conversation, its messages, and the one
 * stream that may be running (status, queue/loading, stop, retry). Components read it
 * through `useChat`. Opening a conversation and the chat's options are here; sending
 * (send, regenerate, edit, retry, stop) and the stream are in `sending.ts`.
 */
import { create } from 'zustand';
import { onUserChange } from '../auth/userData';
import { type ApiError, toApiError } from '../../api/errors';
import { useSession } from '../auth/session';
import * as chatApi from './api';
import type { Conversation, Message } from './api';
import { useConversations } from './conversations';
import { usableModel, type ModelEntry } from './models';
import type { MessageStatus } from './events';
import { createSending } from './sending';
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
  /** Put a model the user may use in place of one they may not (the saved default, or
   * `default` when the active model is not in their groups); on screen only, the next
   * turn stores it. */
  keepModelUsable: (models: ModelEntry[]) => void;
  send: (content: string) => Promise<void>;
  regenerate: () => Promise<void>;
  edit: (messageId: number, content: string) => Promise<void>;
  stop: () => Promise<void>;
  retry: () => Promise<void>;
  /** Forget everything (another user signs in): the stream is dropped, nothing kept. */
  reset: () => void;
}

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

export const useChatStore = create<ChatState>((set, get) => {
  const sending = createSending(set, get);

  return {
    ...emptyView(),

    open: async (id) => {
      if (id !== null && id === get().conversationId) return;
      const mine = sending.nextView();
      if (id === null) {
        set(emptyView());
        return;
      }
      const { options: _kept, ...reset } = emptyView();
      set({ ...reset, conversationId: id, status: 'loading' });
      try {
        const detail = await chatApi.fetchConversation(id);
        if (!sending.onScreen(mine)) return;
        const { messages, ...conversation } = detail;
        set({
          conversation,
          messages: messages.filter((m) => m.role !== 'system').map(fromServer),
          status: 'idle',
          options: { ...get().options, model: detail.model || get().options.model, systemPrompt: detail.system_prompt },
        });
      } catch (error) {
        if (sending.onScreen(mine)) set({ status: 'idle', error: toApiError(error) });
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

    keepModelUsable: (models) => {
      const { options, status } = get();
      if (status === 'loading') return; // the conversation's own model is not known yet
      const model = usableModel(options.model, models);
      if (model !== options.model) set({ options: { ...options, model } });
    },

    ...sending.actions,

    reset: () => {
      sending.drop();
      set(emptyView());
    },
  };
});

onUserChange(() => useChatStore.getState().reset());
