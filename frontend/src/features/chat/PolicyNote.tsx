import { ShieldCheck } from 'lucide-react';
import { useT } from '../../i18n';
import { findModel, useModels } from './models';

/**
 * Says that the administrator gave the chosen model a system prompt, and shows its text:
 * it comes before the user's own system prompt in every chat, and the user cannot remove it.
 */
export function PolicyNote({ model }: { model: string }) {
  const t = useT();
  const entry = useModels((s) => findModel(s.models, model));
  if (!entry?.has_system_prompt) return null;
  return (
    <details className="relative" data-testid="policy-note">
      <summary className="flex cursor-pointer list-none items-center gap-1 rounded-full bg-indigo-100 px-2 py-0.5 text-xs font-medium text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200 [&::-webkit-details-marker]:hidden">
        <ShieldCheck aria-hidden className="h-3.5 w-3.5" />
        {t('chat.adminPrompt')}
      </summary>
      <div className="absolute right-0 z-20 mt-1 w-80 max-w-[90vw] rounded-lg border border-zinc-200 bg-white p-3 text-xs shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
        <p className="text-zinc-600 dark:text-zinc-400">{t('chat.adminPromptHint')}</p>
        <p className="mt-2 max-h-60 overflow-y-auto rounded bg-zinc-50 p-2 break-words whitespace-pre-wrap dark:bg-zinc-800">{entry.system_prompt}</p>
      </div>
    </details>
  );
}
