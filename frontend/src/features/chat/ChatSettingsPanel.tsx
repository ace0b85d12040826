import { Download, X } from 'lucide-react';
import { useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ErrorNotice } from '../../components/ui/Feedback';
import { TextArea, TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { exportConversation } from './api';
import { findModel, useModels } from './models';
import { useChatStore, type ChatOptions } from './store';

/** The open conversation's system prompt and this session's sampling parameters. */
export function ChatSettingsPanel({ onClose }: { onClose: () => void }) {
  const t = useT();
  const options = useChatStore((s) => s.options);
  const setOptions = useChatStore((s) => s.setOptions);
  const conversationId = useChatStore((s) => s.conversationId);
  const [prompt, setPrompt] = useState(options.systemPrompt);
  // The draft follows the saved prompt whenever that changes or another conversation opens.
  const [draftOf, setDraftOf] = useState({ systemPrompt: options.systemPrompt, conversationId });
  if (draftOf.systemPrompt !== options.systemPrompt || draftOf.conversationId !== conversationId) {
    setDraftOf({ systemPrompt: options.systemPrompt, conversationId });
    setPrompt(options.systemPrompt);
  }
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // An empty field takes the model's default from its profile, when it has one.
  const defaults = useModels((s) => findModel(s.models, options.model)?.defaults);
  const fallback = (value: number | null | undefined) =>
    value === null || value === undefined ? t('params.default') : t('params.modelDefault', { value });

  const savePrompt = async () => {
    setError(null);
    try {
      await setOptions({ systemPrompt: prompt });
      setSaved(true);
      window.setTimeout(() => setSaved(false), 1500);
    } catch (e) {
      setError(e);
    }
  };

  const number = (key: keyof ChatOptions, raw: string, integer = false) => {
    const value = raw === '' ? null : integer ? Math.round(Number(raw)) : Number(raw);
    if (value !== null && Number.isNaN(value)) return;
    void setOptions({ [key]: value });
  };

  const download = async (format: 'json' | 'markdown') => {
    if (conversationId === null) return;
    try {
      const blob = await exportConversation(conversationId, format);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `conversation-${conversationId}.${format === 'json' ? 'json' : 'md'}`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <aside
      aria-label={t('chat.settings')}
      className="flex w-full flex-col gap-4 overflow-y-auto border-l border-zinc-200 bg-white p-4 md:w-80 dark:border-zinc-800 dark:bg-zinc-950"
    >
      <div className="flex items-center justify-between">
        <h2 className="font-semibold">{t('chat.settings')}</h2>
        <IconButton label={t('common.close')} onClick={onClose}>
          <X aria-hidden className="h-4 w-4" />
        </IconButton>
      </div>
      <TextArea
        label={t('chat.systemPrompt')}
        hint={conversationId === null ? t('chat.systemPromptNewHint') : t('chat.systemPromptHint')}
        rows={6}
        value={prompt}
        onChange={(event) => setPrompt(event.target.value)}
      />
      <Button size="sm" onClick={() => void savePrompt()} disabled={prompt === options.systemPrompt}>
        {saved ? t('common.saved') : t('common.save')}
      </Button>
      <TextInput
        label={t('params.temperature')}
        type="number"
        min={0}
        max={2}
        step={0.1}
        placeholder={fallback(defaults?.temperature)}
        value={options.temperature ?? ''}
        onChange={(event) => number('temperature', event.target.value)}
      />
      <TextInput
        label={t('params.topP')}
        type="number"
        min={0.01}
        max={1}
        step={0.05}
        placeholder={fallback(defaults?.top_p)}
        value={options.topP ?? ''}
        onChange={(event) => number('topP', event.target.value)}
      />
      <TextInput
        label={t('params.maxTokens')}
        type="number"
        min={1}
        step={1}
        placeholder={fallback(defaults?.max_tokens)}
        value={options.maxTokens ?? ''}
        onChange={(event) => number('maxTokens', event.target.value, true)}
      />
      {conversationId !== null ? (
        <div className="flex flex-col gap-2">
          <h3 className="text-sm font-medium">{t('chat.export')}</h3>
          <div className="flex gap-2">
            <Button size="sm" icon={<Download aria-hidden className="h-4 w-4" />} onClick={() => void download('markdown')}>
              Markdown
            </Button>
            <Button size="sm" icon={<Download aria-hidden className="h-4 w-4" />} onClick={() => void download('json')}>
              JSON
            </Button>
          </div>
        </div>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
    </aside>
  );
}
