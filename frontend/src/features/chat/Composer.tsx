import { ArrowUp, Square } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';
import { useT } from '../../i18n';

interface Props {
  busy: boolean;
  disabled?: boolean;
  onSend: (content: string) => void;
  onStop: () => void;
}

/** Enter sends, Shift+Enter is a new line (never while an IME is composing Hangul), Esc stops. */
export function Composer({ busy, disabled, onSend, onStop }: Props) {
  const t = useT();
  const [text, setText] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const element = area.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight, 240)}px`;
  }, [text]);

  useEffect(() => {
    if (!busy) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) onStop();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [busy, onStop]);

  const submit = () => {
    if (busy || disabled || !text.trim()) return;
    onSend(text);
    setText('');
  };

  return (
    <form
      className="mx-auto w-full max-w-3xl px-4 pb-4"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <div className="flex items-end gap-2 rounded-2xl border border-zinc-300 bg-white p-2 shadow-sm focus-within:border-indigo-500 dark:border-zinc-700 dark:bg-zinc-900">
        <textarea
          ref={area}
          rows={1}
          value={text}
          aria-label={t('chat.input')}
          placeholder={t('chat.placeholder')}
          disabled={disabled}
          className="max-h-60 min-h-10 flex-1 resize-none bg-transparent px-2 py-2 text-base text-zinc-900 placeholder:text-zinc-400 focus:outline-none dark:text-zinc-100"
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key !== 'Enter' || event.shiftKey || event.nativeEvent.isComposing) return;
            event.preventDefault();
            submit();
          }}
        />
        {busy ? (
          <button
            type="button"
            onClick={onStop}
            aria-label={t('chat.stop')}
            title={t('chat.stopHint')}
            className="flex h-10 w-10 shrink-0 items-center justify-center rounded-xl bg-zinc-900 text-white hover:bg-zinc-700 dark:bg-zinc-100 dark:text-zinc-900"
          >
            <Square aria-hidden className="h-4 w-4 fill-current" />
          </button>
        ) : (
          <button
            type="submit"
            aria-label={t('chat.send')}
            disabled={disabled || !text.trim()}
            className="flex h-10 w-10 shrink-0 items-center justify-center rounded-xl bg-indigo-600 text-white hover:bg-indigo-500 disabled:bg-zinc-300 dark:disabled:bg-zinc-700"
          >
            <ArrowUp aria-hidden className="h-5 w-5" />
          </button>
        )}
      </div>
      <p className="mt-1.5 hidden text-center text-xs text-zinc-500 sm:block">{t('chat.keyboardHint')}</p>
    </form>
  );
}
