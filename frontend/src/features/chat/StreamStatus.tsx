import { Clock } from 'lucide-react';
import { ProgressBar } from '../../components/ui/Feedback';
import { useT } from '../../i18n';
import { noticeText } from '../../i18n/notices';
import type { Waiting } from './store';

/** While an answer has not begun: the queue position and wait, or the model's load progress. */
export function StreamStatus({ waiting, trimmed }: { waiting: Waiting | null; trimmed: number }) {
  const t = useT();
  return (
    <div aria-live="polite" className="mx-auto w-full max-w-3xl px-4">
      {waiting?.kind === 'queue' ? (
        <p className="flex items-center gap-2 rounded-lg bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950/40 dark:text-amber-200">
          <Clock aria-hidden className="h-4 w-4" />
          {waiting.estimatedWaitS !== null
            ? t('chat.queuedWait', { position: waiting.position, seconds: Math.ceil(waiting.estimatedWaitS) })
            : t('chat.queued', { position: waiting.position })}
        </p>
      ) : null}
      {waiting?.kind === 'loading' ? (
        <div className="flex flex-col gap-1.5 rounded-lg bg-indigo-50 px-3 py-2 text-sm text-indigo-900 dark:bg-indigo-950/40 dark:text-indigo-200">
          <span>
            {waiting.progress !== null
              ? t('chat.loadingProgress', { profile: waiting.profile, percent: Math.round(waiting.progress * 100) })
              : t('chat.loadingModel', { profile: waiting.profile })}
            {waiting.message ? ` · ${noticeText(t, waiting.code, {}, waiting.message)}` : ''}
          </span>
          <ProgressBar value={waiting.progress} label={t('chat.loadProgress')} />
        </div>
      ) : null}
      {trimmed > 0 ? (
        <p className="text-center text-xs text-zinc-500">{t('chat.trimmed', { count: trimmed })}</p>
      ) : null}
    </div>
  );
}
