import { Copy, Download, Pencil, Plus, Trash2 } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Button } from '../../components/ui/Button';
import { ConfirmDialog, Dialog } from '../../components/ui/Dialog';
import { Badge, Card, ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { TextInput } from '../../components/ui/Field';
import { cloneDefinition, deleteDefinition, listDefinitions, type ProfileDefinition, type ProfileDefinitions } from '../../features/profiles/api';
import { ProfileEditor } from '../../features/profiles/ProfileEditor';
import { useT } from '../../i18n';

const NEW_PROFILE = 'name: new-profile\nengine: external\nurls:\n  - http://127.0.0.1:8000/v1\n';

type Selection = { kind: 'edit'; name: string } | { kind: 'new' } | null;

export function AdminProfiles() {
  const t = useT();
  const [list, setList] = useState<ProfileDefinitions | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selection, setSelection] = useState<Selection>(null);
  const [cloning, setCloning] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const refresh = useCallback(
    () =>
      listDefinitions().then((answer) => {
        setList(answer);
        setError(null);
      }, setError),
    [],
  );
  useEffect(() => void refresh(), [refresh]);

  const selected = selection?.kind === 'edit' ? (list?.data.find((d) => d.name === selection.name) ?? null) : null;
  const saved = (definition: ProfileDefinition) => {
    // The answer is the stored profile: show it at once, then read the list again.
    setList((current) => {
      if (!current) return current;
      const others = current.data.filter((d) => d.name !== definition.name);
      const known = others.length !== current.data.length;
      return { ...current, data: known ? current.data.map((d) => (d.name === definition.name ? definition : d)) : [...others, definition] };
    });
    setSelection({ kind: 'edit', name: definition.name });
    void refresh();
  };
  const remove = async (name: string) => {
    try {
      await deleteDefinition(name);
      if (selection?.kind === 'edit' && selection.name === name) setSelection(null);
      setError(null);
    } catch (e) {
      setError(e);
    }
    void refresh();
  };

  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{t('profiles.title')}</h1>
        <a
          href="/api/admin/profiles/export"
          download="profiles.yaml"
          className="inline-flex items-center gap-1.5 rounded-lg px-3 py-1.5 text-sm text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
        >
          <Download aria-hidden className="h-4 w-4" />
          {t('profiles.export')}
        </a>
        {list?.editable ? (
          <Button variant="primary" icon={<Plus aria-hidden className="h-4 w-4" />} onClick={() => setSelection({ kind: 'new' })}>
            {t('profiles.new')}
          </Button>
        ) : null}
      </div>
      {list && !list.editable ? <p className="text-sm text-amber-700 dark:text-amber-400">{t('profiles.readOnly')}</p> : null}
      {error ? <ErrorNotice error={error} onRetry={() => void refresh()} /> : null}
      {list === null ? (
        <Spinner label={t('common.loading')} />
      ) : (
        <div className="grid gap-4 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
          <Card className="flex flex-col divide-y divide-zinc-200 p-0 dark:divide-zinc-800">
            {list.data.map((definition) => (
              <div key={definition.name} data-testid={`definition-${definition.name}`} className="flex flex-wrap items-center gap-2 py-2">
                <div className="min-w-0 flex-1">
                  <p className="truncate font-medium">{definition.name}</p>
                  <p className="truncate text-xs text-zinc-500">{String(definition.document.engine ?? '')}</p>
                </div>
                {definition.restart_needed ? (
                  <Badge tone="amber" title={t('profiles.restartHint')}>
                    {t('profiles.restartNeeded')}
                  </Badge>
                ) : null}
                <Button size="sm" variant="ghost" icon={<Pencil aria-hidden className="h-3.5 w-3.5" />} onClick={() => setSelection({ kind: 'edit', name: definition.name })}>
                  {t('profiles.edit')}
                </Button>
                {list.editable ? (
                  <>
                    <Button size="sm" variant="ghost" icon={<Copy aria-hidden className="h-3.5 w-3.5" />} onClick={() => setCloning(definition.name)}>
                      {t('profiles.clone')}
                    </Button>
                    <Button size="sm" variant="ghost" icon={<Trash2 aria-hidden className="h-3.5 w-3.5" />} aria-label={`${t('common.delete')} ${definition.name}`} onClick={() => setDeleting(definition.name)} />
                  </>
                ) : null}
              </div>
            ))}
          </Card>
          {selection === null || (selection.kind === 'edit' && selected === null) ? (
            <p className="text-sm text-zinc-500">{t('profiles.empty')}</p>
          ) : (
            <ProfileEditor
              key={selection.kind === 'edit' ? selection.name : '+new'}
              definition={selected}
              text={selected ? selected.text : NEW_PROFILE}
              editable={list.editable}
              onSaved={saved}
            />
          )}
        </div>
      )}
      {cloning ? (
        <CloneDialog
          source={cloning}
          onClose={() => setCloning(null)}
          onCloned={(copy) => {
            setCloning(null);
            saved(copy);
          }}
        />
      ) : null}
      <ConfirmDialog
        open={deleting !== null}
        title={t('profiles.deleteTitle', { name: deleting ?? '' })}
        message={t('profiles.deleteConfirm')}
        confirmLabel={t('common.delete')}
        danger
        onConfirm={() => void (deleting && remove(deleting))}
        onClose={() => setDeleting(null)}
      />
    </>
  );
}

function CloneDialog({ source, onClose, onCloned }: { source: string; onClose: () => void; onCloned: (copy: ProfileDefinition) => void }) {
  const t = useT();
  const [name, setName] = useState(`${source}-copy`);
  const [error, setError] = useState<unknown>(null);
  const submit = async () => {
    try {
      onCloned(await cloneDefinition(source, name));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog
      open
      title={t('profiles.cloneTitle', { name: source })}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={() => void submit()}>
            {t('profiles.clone')}
          </Button>
        </>
      }
    >
      <TextInput label={t('profiles.cloneName')} hint={t('profiles.cloneHint')} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
