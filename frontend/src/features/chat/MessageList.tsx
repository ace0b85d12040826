/**
 * The thread. Long conversations are windowed simply: the last WINDOW messages are
 * rendered and older ones come in pages on request; each message also carries
 * `content-visibility: auto`, so the browser skips layout and paint of those off screen.
 * The view follows a streaming answer while the reader is at the bottom.
 */
import { useLayoutEffect, useRef, useState } from 'react';
import { Button } from '../../components/ui/Button';
import { useT } from '../../i18n';
import { MessageItem } from './MessageItem';
import type { ChatMessage } from './store';

export const WINDOW = 60;

interface Props {
  messages: ChatMessage[];
  busy: boolean;
  conversationKey: number | null;
  onRegenerate: () => void;
  onEdit: (id: number, content: string) => void;
}

export function MessageList({ messages, busy, conversationKey, onRegenerate, onEdit }: Props) {
  const t = useT();
  const [shown, setShown] = useState(WINDOW);
  const [shownOf, setShownOf] = useState(conversationKey);
  if (shownOf !== conversationKey) {
    setShownOf(conversationKey);
    setShown(WINDOW);
  }
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    atBottom.current = true;
  }, [conversationKey]);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [messages]);

  const hidden = Math.max(0, messages.length - shown);
  const visible = hidden ? messages.slice(hidden) : messages;
  const lastAnswer = messages.length - 1;

  return (
    <div
      ref={scroller}
      className="flex-1 overflow-y-auto"
      onScroll={(event) => {
        const el = event.currentTarget;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      }}
    >
      <ol aria-label={t('chat.messages')} className="mx-auto flex w-full max-w-3xl flex-col gap-6 px-4 py-6">
        {hidden > 0 ? (
          <li className="self-center">
            <Button size="sm" onClick={() => setShown((n) => n + WINDOW)}>
              {t('chat.showEarlier', { count: hidden })}
            </Button>
          </li>
        ) : null}
        {visible.map((message, i) => (
          <MessageItem
            key={message.key}
            message={message}
            conversationId={conversationKey}
            last={hidden + i === lastAnswer && message.role === 'assistant'}
            busy={busy}
            onRegenerate={onRegenerate}
            onEdit={onEdit}
          />
        ))}
      </ol>
    </div>
  );
}
