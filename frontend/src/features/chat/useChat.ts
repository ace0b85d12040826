import { useShallow } from 'zustand/react/shallow';
import { useChatStore } from './store';

/** The chat stream in one hook: what is on screen and what the user can do to it. */
export function useChat() {
  return useChatStore(
    useShallow((s) => ({
      conversationId: s.conversationId,
      conversation: s.conversation,
      messages: s.messages,
      status: s.status,
      waiting: s.waiting,
      trimmed: s.trimmed,
      error: s.error,
      busy: s.status === 'submitted' || s.status === 'streaming',
      send: s.send,
      stop: s.stop,
      regenerate: s.regenerate,
      edit: s.edit,
      retry: s.retry,
    })),
  );
}
