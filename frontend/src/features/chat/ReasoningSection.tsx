/**
 * A reasoning model's thinking, above its answer: open while the model thinks, closed
 * once the answer begins; the reader can open or close it at any time after that.
 */
import { Brain, ChevronDown, ChevronRight } from 'lucide-react';
import { useId, useState } from 'react';
import { useFormat, useT } from '../../i18n';
import { Markdown } from './Markdown';

interface Props {
  text: string;
  /** How long it thought; null when not known. */
  ms: number | null;
  /** The model is still thinking: no answer text yet. */
  thinking: boolean;
}

export function ReasoningSection({ text, ms, thinking }: Props) {
  const t = useT();
  const format = useFormat();
  const id = useId();
  // The reader's choice; until they make one, the section follows the thinking.
  const [chosen, setChosen] = useState<boolean | null>(null);
  const open = chosen ?? thinking;
  const label = thinking
    ? t('chat.thinkingNow')
    : ms !== null
      ? t('chat.thoughtFor', { seconds: format.number(ms / 1000, 1) })
      : t('chat.thoughts');
  return (
    <div className="reasoning mb-3" data-thinking={thinking || undefined}>
      <button
        type="button"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => setChosen(!open)}
        className="inline-flex items-center gap-1.5 rounded-md py-0.5 text-sm text-zinc-500 hover:text-zinc-800 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-400 dark:hover:text-zinc-200"
      >
        <Brain aria-hidden className={`h-4 w-4 ${thinking ? 'animate-pulse' : ''}`} />
        <span>{label}</span>
        {open ? <ChevronDown aria-hidden className="h-4 w-4" /> : <ChevronRight aria-hidden className="h-4 w-4" />}
      </button>
      {open ? (
        <div
          id={id}
          role="region"
          aria-label={label}
          className="mt-2 border-l-2 border-zinc-200 pl-3 text-zinc-500 dark:border-zinc-700 dark:text-zinc-400"
        >
          <Markdown text={text} />
        </div>
      ) : null}
    </div>
  );
}
