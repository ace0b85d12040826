import { del, get, patch, post, query, request } from '../../api/client';
import type { Schema } from '../../api/schemas';

export interface Conversation {
  id: number;
  title: string;
  model: string;
  system_prompt: string;
  pinned: boolean;
  created: string;
  updated: string;
}

/** A stored message; `reasoning` is a reasoning model's thinking, apart from the answer. */
export type Message = Schema<'MessagePublic'>;

export interface ConversationDetail extends Conversation {
  messages: Message[];
}

export interface ConversationPage {
  data: Conversation[];
  next_before: string | null;
}

export type ConversationChanges = Partial<Pick<Conversation, 'title' | 'pinned' | 'model' | 'system_prompt'>>;

export const listConversations = (params: { q?: string; before?: string | null; limit?: number }) =>
  get<ConversationPage>(`/api/conversations${query({ limit: params.limit ?? 50, q: params.q, before: params.before })}`);
export const fetchConversation = (id: number, signal?: AbortSignal) =>
  get<ConversationDetail>(`/api/conversations/${id}`, signal);
export const updateConversation = (id: number, changes: ConversationChanges) =>
  patch<Conversation>(`/api/conversations/${id}`, changes);
export const deleteConversation = (id: number) => del<unknown>(`/api/conversations/${id}`);
export const stopGeneration = (requestId: string) =>
  post<unknown>(`/api/chat/${encodeURIComponent(requestId)}/stop`);

/** The conversation as a file download (JSON or Markdown). */
export async function exportConversation(id: number, format: 'json' | 'markdown') {
  const response = await request(`/api/conversations/${id}/export${query({ format })}`, {
    accept: format === 'json' ? 'application/json' : 'text/markdown',
  });
  return response.blob();
}
