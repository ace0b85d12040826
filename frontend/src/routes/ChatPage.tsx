import { SlidersHorizontal } from 'lucide-react';
import { useEffect, useState } from 'react';
import { IconButton } from '../components/ui/Button';
import { ErrorNotice, Spinner } from '../components/ui/Feedback';
import { ChatSettingsPanel } from '../features/chat/ChatSettingsPanel';
import { Composer } from '../features/chat/Composer';
import { ConversationList } from '../features/chat/ConversationList';
import { EngineChip } from '../features/chat/EngineChip';
import { MessageList } from '../features/chat/MessageList';
import { ModelPicker } from '../features/chat/ModelPicker';
import { PolicyNote } from '../features/chat/PolicyNote';
import { useModelPolling, useModels } from '../features/chat/models';
import { StreamStatus } from '../features/chat/StreamStatus';
import { useChatStore } from '../features/chat/store';
import { useChat } from '../features/chat/useChat';
import { useT } from '../i18n';
import { Layout } from './Layout';

export function ChatPage({ conversationId }: { conversationId: number | null }) {
  const t = useT();
  const chat = useChat();
  const model = useChatStore((s) => s.options.model);
  const setOptions = useChatStore((s) => s.setOptions);
  const [panel, setPanel] = useState(false);
  const [modelError, setModelError] = useState<unknown>(null);
  useModelPolling();
  const models = useModels((s) => s.models);

  useEffect(() => {
    useChatStore.getState().keepModelUsable(models);
  }, [models, model, chat.status]);

  useEffect(() => {
    void useChatStore.getState().open(conversationId);
  }, [conversationId]);

  const title = chat.conversation?.title || (chat.conversationId === null ? t('chat.newChat') : t('chat.untitled'));
  const lastFailed = chat.error !== null;

  return (
    <Layout sidebar={(close) => <ConversationList activeId={chat.conversationId} onNavigate={close} />}>
      <div className="flex min-h-0 flex-1">
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex flex-wrap items-center gap-2 border-b border-zinc-200 px-4 py-2 dark:border-zinc-800">
            <h1 className="min-w-0 flex-1 truncate text-base font-semibold">{title}</h1>
            <ModelPicker
              value={model}
              onChange={(next) => {
                setModelError(null);
                void setOptions({ model: next }).catch(setModelError);
              }}
            />
            <EngineChip model={model} waiting={chat.waiting} />
            <PolicyNote model={model} />
            <IconButton label={t('chat.settings')} aria-expanded={panel} onClick={() => setPanel((p) => !p)}>
              <SlidersHorizontal aria-hidden className="h-4 w-4" />
            </IconButton>
          </header>
          {modelError ? (
            <div className="px-4 pt-2">
              <ErrorNotice error={modelError} />
            </div>
          ) : null}
          {chat.status === 'loading' ? (
            <div className="flex flex-1 items-center justify-center">
              <Spinner label={t('common.loading')} />
            </div>
          ) : chat.messages.length === 0 && !lastFailed ? (
            <div className="flex flex-1 flex-col items-center justify-center gap-2 px-6 text-center">
              <p className="text-2xl font-semibold">{t('chat.emptyTitle')}</p>
              <p className="text-sm text-zinc-500">{t('chat.emptyHint')}</p>
            </div>
          ) : (
            <MessageList
              messages={chat.messages}
              busy={chat.busy}
              conversationKey={chat.conversationId}
              onRegenerate={() => void chat.regenerate()}
              onEdit={(id, content) => void chat.edit(id, content)}
            />
          )}
          <StreamStatus waiting={chat.status === 'submitted' ? chat.waiting : null} trimmed={chat.trimmed} />
          {chat.error ? (
            <div className="mx-auto w-full max-w-3xl px-4 pb-2">
              <ErrorNotice error={chat.error} onRetry={chat.busy ? undefined : () => void chat.retry()} />
            </div>
          ) : null}
          <Composer busy={chat.busy} disabled={chat.status === 'loading'} onSend={(text) => void chat.send(text)} onStop={() => void chat.stop()} />
        </div>
        {panel ? (
          <div className="fixed inset-0 z-30 flex md:static md:z-auto">
            <ChatSettingsPanel onClose={() => setPanel(false)} />
          </div>
        ) : null}
      </div>
    </Layout>
  );
}
