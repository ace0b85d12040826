import { ThumbsDown, ThumbsUp } from 'lucide-react';
import { useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ErrorNotice } from '../../components/ui/Feedback';
import { inputClass } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { MAX_COMMENT, nextRating, removeFeedback, saveFeedback, type AnswerFeedback as Saved, type Rating } from './api';

interface Props {
  conversationId: number;
  messageId: number;
  /** What the gateway has stored (the conversation's payload), null when nothing. */
  initial: Saved | null;
}

/**
 * Thumbs up and down under an answer, and a comment box: it opens by itself after a thumbs
 * down, and on request after a thumbs up. A thumb saves at once; the comment when sent.
 */
export function AnswerFeedback({ conversationId, messageId, initial }: Props) {
  const t = useT();
  const [saved, setSaved] = useState<Saved | null>(initial);
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(initial?.comment ?? '');
  const [pending, setPending] = useState(false);
  const [thanked, setThanked] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const act = async (work: () => Promise<void>) => {
    setPending(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };

  const rate = (clicked: Rating) =>
    act(async () => {
      const rating = nextRating(saved?.rating ?? null, clicked);
      setThanked(false);
      if (rating === null) {
        await removeFeedback(conversationId, messageId);
        setSaved(null);
        setOpen(false);
        setDraft('');
        return;
      }
      const next = { rating, comment: saved?.comment ?? '' };
      await saveFeedback(conversationId, messageId, next);
      setSaved(next);
      if (rating === 'down') {
        setDraft(next.comment);
        setOpen(true);
      }
    });

  const send = (rating: Rating) =>
    act(async () => {
      const next = { rating, comment: draft };
      await saveFeedback(conversationId, messageId, next);
      setSaved(next);
      setOpen(false);
      setThanked(true);
    });

  const thumb = (rating: Rating) => {
    const pressed = saved?.rating === rating;
    const Icon = rating === 'up' ? ThumbsUp : ThumbsDown;
    return (
      <IconButton
        label={t(rating === 'up' ? 'feedback.good' : 'feedback.bad')}
        aria-pressed={pressed}
        disabled={pending}
        className={pressed ? 'text-indigo-600 dark:text-indigo-400' : ''}
        onClick={() => void rate(rating)}
      >
        <Icon aria-hidden className="h-4 w-4" fill={pressed ? 'currentColor' : 'none'} />
      </IconButton>
    );
  };

  return (
    <>
      {thumb('up')}
      {thumb('down')}
      {saved && !open ? (
        <button
          type="button"
          className="rounded px-1 text-xs text-zinc-500 underline-offset-2 hover:underline"
          onClick={() => {
            setDraft(saved.comment);
            setOpen(true);
            setThanked(false);
          }}
        >
          {t(saved.comment ? 'feedback.editComment' : 'feedback.addComment')}
        </button>
      ) : null}
      {thanked ? (
        <span role="status" className="text-xs text-emerald-700 dark:text-emerald-400">
          {t('feedback.thanks')}
        </span>
      ) : null}
      {open && saved ? (
        <form
          className="mt-1 flex w-full max-w-xl basis-full flex-col gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            void send(saved.rating);
          }}
        >
          <textarea
            aria-label={t(saved.rating === 'down' ? 'feedback.commentDown' : 'feedback.commentUp')}
            placeholder={t(saved.rating === 'down' ? 'feedback.commentDown' : 'feedback.commentUp')}
            className={`${inputClass} min-h-20`}
            maxLength={MAX_COMMENT}
            value={draft}
            autoFocus
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Escape') setOpen(false);
            }}
          />
          <div className="flex items-center justify-end gap-2">
            <span className="mr-auto tabular-nums text-zinc-400">{t('feedback.count', { count: draft.length, max: MAX_COMMENT })}</span>
            <Button size="sm" onClick={() => setOpen(false)}>
              {t('common.cancel')}
            </Button>
            <Button size="sm" variant="primary" type="submit" disabled={pending}>
              {t('feedback.send')}
            </Button>
          </div>
        </form>
      ) : null}
      {error ? (
        <div className="w-full basis-full">
          <ErrorNotice error={error} />
        </div>
      ) : null}
    </>
  );
}
