/**
 * The conversation list in the sidebar: recent first (pinned above), searched on the
 * server, paged with `next_before`. Changes made elsewhere (a new chat, a title event)
 * are folded in with `upsert` and `setTitle`.
 */
import { create } from 'zustand';
import { onUserChange } from '../auth/userData';
import * as chatApi from './api';
import type { Conversation, ConversationChanges } from './api';

interface ConversationsState {
  items: Conversation[];
  nextBefore: string | null;
  q: string;
  loading: boolean;
  error: unknown;
  load: (q?: string) => Promise<void>;
  loadMore: () => Promise<void>;
  upsert: (conversation: Conversation) => void;
  setTitle: (id: number, title: string) => void;
  change: (id: number, changes: ConversationChanges) => Promise<Conversation>;
  remove: (id: number) => Promise<void>;
}

let loadSeq = 0;

export const useConversations = create<ConversationsState>((set, get) => ({
  items: [],
  nextBefore: null,
  q: '',
  loading: false,
  error: null,
  load: async (q = get().q) => {
    const seq = ++loadSeq;
    set({ q, loading: true, error: null });
    try {
      const page = await chatApi.listConversations({ q });
      if (seq !== loadSeq) return; // a newer search has started
      set({ items: page.data, nextBefore: page.next_before, loading: false });
    } catch (error) {
      if (seq === loadSeq) set({ loading: false, error });
    }
  },
  loadMore: async () => {
    const { nextBefore, q, loading } = get();
    if (!nextBefore || loading) return;
    set({ loading: true });
    try {
      const page = await chatApi.listConversations({ q, before: nextBefore });
      const known = new Set(get().items.map((item) => item.id));
      set({
        items: [...get().items, ...page.data.filter((item) => !known.has(item.id))],
        nextBefore: page.next_before,
        loading: false,
      });
    } catch (error) {
      set({ loading: false, error });
    }
  },
  upsert: (conversation) =>
    set({ items: [conversation, ...get().items.filter((item) => item.id !== conversation.id)] }),
  setTitle: (id, title) =>
    set({ items: get().items.map((item) => (item.id === id ? { ...item, title } : item)) }),
  change: async (id, changes) => {
    const updated = await chatApi.updateConversation(id, changes);
    set({ items: get().items.map((item) => (item.id === id ? updated : item)) });
    return updated;
  },
  remove: async (id) => {
    await chatApi.deleteConversation(id);
    set({ items: get().items.filter((item) => item.id !== id) });
  },
}));

/** Pinned first, then the server's order (most recently updated first). */
onUserChange(() => {
  loadSeq += 1; // a list still loading belongs to the previous user
  useConversations.setState({ items: [], nextBefore: null, q: '', loading: false, error: null });
});

export function sortForList(items: Conversation[]): Conversation[] {
  return [...items.filter((item) => item.pinned), ...items.filter((item) => !item.pinned)];
}
