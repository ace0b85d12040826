import { Pencil, Pin, PinOff, Plus, Search, Trash2 } from 'lucide-react';
import { useEffect, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ConfirmDialog } from '../../components/ui/Dialog';
import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { inputClass } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { Link, navigate } from '../../router';
import type { Conversation } from './api';
import { sortForList, useConversations } from './conversations';

export function ConversationList({ activeId, onNavigate }: { activeId: number | null; onNavigate?: () => void }) {
  const t = useT();
  const { items, nextBefore, loading, error, load, loadMore } = useConversations();
  const [search, setSearch] = useState('');
  const [deleting, setDeleting] = useState<Conversation | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  useEffect(() => {
    const timer = window.setTimeout(() => void load(search), search ? 250 : 0);
    return () => window.clearTimeout(timer);
  }, [search, load]);

  const remove = async (conversation: Conversation) => {
    try {
      await useConversations.getState().remove(conversation.id);
      if (conversation.id === activeId) navigate('/');
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <nav aria-label={t('chat.conversations')} className="flex h-full min-h-0 flex-col gap-2 p-2">
      <Button
        variant="primary"
        icon={<Plus aria-hidden className="h-4 w-4" />}
        onClick={() => {
          navigate('/');
          onNavigate?.();
        }}
      >
        {t('chat.newChat')}
      </Button>
      <div className="relative">
        <Search aria-hidden className="pointer-events-none absolute top-2.5 left-2.5 h-4 w-4 text-zinc-400" />
        <input
          type="search"
          aria-label={t('chat.search')}
          placeholder={t('chat.search')}
          className={`${inputClass} pl-8`}
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => void load(search)} /> : null}
      {actionError ? <ErrorNotice error={actionError} /> : null}
      <ul className="-mx-1 flex min-h-0 flex-1 flex-col gap-0.5 overflow-y-auto px-1">
        {sortForList(items).map((conversation) => (
          <ConversationRow
            key={conversation.id}
            conversation={conversation}
            active={conversation.id === activeId}
            onNavigate={onNavigate}
            onDelete={() => setDeleting(conversation)}
            onError={setActionError}
          />
        ))}
        {!loading && items.length === 0 ? (
          <li className="px-2 py-4 text-center text-sm text-zinc-500">{search ? t('chat.noMatches') : t('chat.noConversations')}</li>
        ) : null}
        {loading ? (
          <li className="px-2 py-2">
            <Spinner label={t('common.loading')} />
          </li>
        ) : null}
        {nextBefore && !loading ? (
          <li className="py-1 text-center">
            <Button size="sm" variant="ghost" onClick={() => void loadMore()}>
              {t('common.more')}
            </Button>
          </li>
        ) : null}
      </ul>
      <ConfirmDialog
        open={deleting !== null}
        title={t('chat.deleteTitle')}
        message={t('chat.deleteConfirm', { title: deleting?.title || t('chat.untitled') })}
        confirmLabel={t('common.delete')}
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onClose={() => setDeleting(null)}
      />
    </nav>
  );
}

interface RowProps {
  conversation: Conversation;
  active: boolean;
  onNavigate: (() => void) | undefined;
  onDelete: () => void;
  onError: (error: unknown) => void;
}

function ConversationRow({ conversation, active, onNavigate, onDelete, onError }: RowProps) {
  const t = useT();
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(conversation.title);
  const change = useConversations((s) => s.change);
  const label = conversation.title || t('chat.untitled');

  const save = async () => {
    setRenaming(false);
    if (title === conversation.title) return;
    try {
      await change(conversation.id, { title });
    } catch (e) {
      onError(e);
      setTitle(conversation.title);
    }
  };

  if (renaming) {
    return (
      <li>
        <input
          aria-label={t('chat.rename')}
          className={`${inputClass} py-1.5`}
          value={title}
          autoFocus
          maxLength={500}
          onChange={(event) => setTitle(event.target.value)}
          onBlur={() => void save()}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.nativeEvent.isComposing) void save();
            if (event.key === 'Escape') {
              setTitle(conversation.title);
              setRenaming(false);
            }
          }}
        />
      </li>
    );
  }

  return (
    <li
      className={`group flex items-center rounded-lg text-sm ${active ? 'bg-zinc-200 dark:bg-zinc-800' : 'hover:bg-zinc-100 dark:hover:bg-zinc-900'}`}
    >
      <Link
        to={`/c/${conversation.id}`}
        aria-current={active ? 'page' : undefined}
        onClick={() => onNavigate?.()}
        className="flex min-w-0 flex-1 items-center gap-1.5 px-2 py-2 text-zinc-800 dark:text-zinc-200"
      >
        {conversation.pinned ? <Pin aria-label={t('chat.pinned')} className="h-3.5 w-3.5 shrink-0 text-indigo-500" /> : null}
        <span className="truncate">{label}</span>
      </Link>
      <div className="flex shrink-0 opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
        <IconButton
          label={t('chat.rename')}
          onClick={() => {
            setTitle(conversation.title);
            setRenaming(true);
          }}
        >
          <Pencil aria-hidden className="h-3.5 w-3.5" />
        </IconButton>
        <IconButton
          label={conversation.pinned ? t('chat.unpin') : t('chat.pin')}
          onClick={() => void change(conversation.id, { pinned: !conversation.pinned }).catch(onError)}
        >
          {conversation.pinned ? <PinOff aria-hidden className="h-3.5 w-3.5" /> : <Pin aria-hidden className="h-3.5 w-3.5" />}
        </IconButton>
        <IconButton label={t('common.delete')} onClick={onDelete}>
          <Trash2 aria-hidden className="h-3.5 w-3.5" />
        </IconButton>
      </div>
    </li>
  );
}
