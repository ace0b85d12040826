import { Check, Copy, Pencil, RefreshCw } from 'lucide-react';
import { memo, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ErrorNotice } from '../../components/ui/Feedback';
import { inputClass } from '../../components/ui/Field';
import { useFormat, useT } from '../../i18n';
import { AnswerFeedback } from '../feedback/AnswerFeedback';
import { copyText } from './clipboard';
import { Markdown } from './Markdown';
import { ReasoningSection } from './ReasoningSection';
import type { ChatMessage } from './store';

interface Props {
  message: ChatMessage;
  /** The conversation it belongs to (null: not stored yet); answers in it can be rated. */
  conversationId: number | null;
  /** The last answer, while nothing streams: it can be regenerated or retried. */
  last: boolean;
  busy: boolean;
  onRegenerate: () => void;
  onEdit: (id: number, content: string) => void;
}

function MessageItemView({ message, conversationId, last, busy, onRegenerate, onEdit }: Props) {
  const t = useT();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const [copied, setCopied] = useState(false);
  const user = message.role === 'user';

  const copy = async () => {
    if (await copyText(message.content)) {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    }
  };

  if (editing && message.id !== null) {
    const id = message.id;
    return (
      <li className="flex justify-end">
        <form
          className="flex w-full max-w-2xl flex-col gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (!draft.trim()) return;
            setEditing(false);
            onEdit(id, draft);
          }}
        >
          <textarea
            aria-label={t('chat.editMessage')}
            className={`${inputClass} min-h-24`}
            value={draft}
            autoFocus
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Escape') setEditing(false);
            }}
          />
          <div className="flex justify-end gap-2">
            <Button size="sm" onClick={() => setEditing(false)}>
              {t('common.cancel')}
            </Button>
            <Button size="sm" variant="primary" type="submit" disabled={busy}>
              {t('chat.sendEdited')}
            </Button>
          </div>
        </form>
      </li>
    );
  }

  return (
    <li
      className={`message group flex flex-col gap-1 ${user ? 'items-end' : 'items-start'}`}
      data-role={message.role}
      data-message-id={message.id ?? undefined}
      data-status={message.status}
    >
      <div
        className={
          user
            ? 'max-w-[85%] rounded-2xl bg-indigo-600 px-4 py-2 whitespace-pre-wrap break-words text-white'
            : 'w-full max-w-full break-words text-zinc-900 dark:text-zinc-100'
        }
      >
        {user ? message.content : <AnswerBody message={message} />}
      </div>
      {message.error ? (
        <div className="w-full">
          <ErrorNotice error={message.error} onRetry={last && !busy ? onRegenerate : undefined} />
        </div>
      ) : null}
      {message.status !== 'streaming' ? (
        <div className="flex flex-wrap items-center gap-1 text-xs text-zinc-500 opacity-100 sm:opacity-60 sm:group-hover:opacity-100 sm:focus-within:opacity-100">
          {!user ? <AnswerStats message={message} /> : null}
          <IconButton label={copied ? t('common.copied') : t('chat.copyMessage')} onClick={() => void copy()}>
            {copied ? <Check aria-hidden className="h-4 w-4" /> : <Copy aria-hidden className="h-4 w-4" />}
          </IconButton>
          {user && message.id !== null && !busy ? (
            <IconButton
              label={t('chat.editMessage')}
              onClick={() => {
                setDraft(message.content);
                setEditing(true);
              }}
            >
              <Pencil aria-hidden className="h-4 w-4" />
            </IconButton>
          ) : null}
          {!user && last && !busy ? (
            <IconButton label={t('chat.regenerate')} onClick={onRegenerate}>
              <RefreshCw aria-hidden className="h-4 w-4" />
            </IconButton>
          ) : null}
          {!user && message.id !== null && conversationId !== null ? (
            <AnswerFeedback conversationId={conversationId} messageId={message.id} initial={message.feedback ?? null} />
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

function AnswerBody({ message }: { message: ChatMessage }) {
  const t = useT();
  // Streaming, and no answer text yet: the model is waiting, or thinking.
  const waiting = message.status === 'streaming' && !message.content;
  return (
    <>
      {message.reasoning ? (
        <ReasoningSection text={message.reasoning} ms={message.reasoning_ms} thinking={waiting} />
      ) : null}
      {waiting ? (
        message.reasoning ? null : <span className="typing" aria-label={t('chat.thinking')} />
      ) : (
        <Markdown text={message.content} />
      )}
      {message.status === 'streaming' && !waiting ? <span className="caret" aria-hidden /> : null}
      {message.status === 'interrupted' ? (
        <p className="mt-1 text-xs text-amber-700 dark:text-amber-400">{t('chat.interrupted')}</p>
      ) : null}
    </>
  );
}

function AnswerStats({ message }: { message: ChatMessage }) {
  const t = useT();
  const format = useFormat();
  const parts: string[] = [];
  if (message.model) parts.push(message.model);
  if (message.token_in !== null && message.token_out !== null) {
    parts.push(t('chat.tokens', { input: format.number(message.token_in), output: format.number(message.token_out) }));
  }
  if (message.tokens_per_s !== null) parts.push(t('chat.speed', { value: format.number(message.tokens_per_s, 1) }));
  if (message.ttft_ms !== null) parts.push(t('chat.ttft', { value: format.number(message.ttft_ms) }));
  if (parts.length === 0) return null;
  return <span className="stats mr-1 tabular-nums">{parts.join(' · ')}</span>;
}

export const MessageItem = memo(MessageItemView);
