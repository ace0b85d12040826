import { Copy, KeyRound, Trash2 } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ConfirmDialog, Dialog } from '../../components/ui/Dialog';
import { Card, ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { TextInput } from '../../components/ui/Field';
import { useFormat, useT } from '../../i18n';
import { copyText } from '../chat/clipboard';
import { createKey, listKeys, revokeKey, type ApiKey, type ApiKeyCreated } from './api';
import { DataTable } from '../../components/ui/DataTable';

/** Personal API keys: create (the full key is shown once, with copy), list by prefix, revoke. */
export function KeysPanel() {
  const t = useT();
  const format = useFormat();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [copied, setCopied] = useState(false);

  const refresh = useCallback(() => listKeys().then(setKeys, setError), []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const create = async () => {
    setError(null);
    try {
      const body: { name: string; expires_at?: string } = { name: name.trim() };
      if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
      setCreated(await createKey(body));
      setName('');
      setExpires('');
      await refresh();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card className="flex flex-col gap-3">
      <h2 className="flex items-center gap-2 font-semibold">
        <KeyRound aria-hidden className="h-4 w-4" />
        {t('keys.title')}
      </h2>
      <p className="text-sm text-zinc-500">{t('keys.hint', { origin: window.location.origin })}</p>
      <form
        className="grid gap-2 sm:grid-cols-[1fr_10rem_auto] sm:items-end"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <TextInput label={t('keys.name')} required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        <TextInput label={t('keys.expires')} type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        <Button variant="primary" type="submit" disabled={!name.trim()}>
          {t('keys.create')}
        </Button>
      </form>
      {error ? <ErrorNotice error={error} /> : null}
      {keys === null ? (
        <Spinner label={t('common.loading')} />
      ) : keys.length === 0 ? (
        <p className="text-sm text-zinc-500">{t('keys.none')}</p>
      ) : (
        <DataTable
          columns={[
            { label: t('keys.name') },
            { label: t('keys.prefix') },
            { label: t('keys.created') },
            { label: t('keys.lastUsed') },
            { label: t('keys.expires') },
          ]}
          actions
        >
          {keys.map((key) => (
            <tr key={key.id}>
              <td>{key.name}</td>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{format.date(key.created)}</td>
              <td>{key.last_used ? format.dateTime(key.last_used) : '—'}</td>
              <td>{key.expires ? format.date(key.expires) : '—'}</td>
              <td className="text-right">
                <IconButton label={t('keys.revoke')} onClick={() => setRevoking(key)}>
                  <Trash2 aria-hidden className="h-4 w-4" />
                </IconButton>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <Dialog
        open={created !== null}
        title={t('keys.createdTitle')}
        onClose={() => {
          setCreated(null);
          setCopied(false);
        }}
        footer={
          <Button variant="primary" onClick={() => setCreated(null)}>
            {t('common.done')}
          </Button>
        }
      >
        <p>{t('keys.showOnce')}</p>
        <div className="flex items-center gap-2 rounded-lg bg-zinc-100 p-2 dark:bg-zinc-800">
          <code data-testid="new-key" className="min-w-0 flex-1 break-all select-all">
            {created?.key}
          </code>
          <IconButton
            label={copied ? t('common.copied') : t('common.copy')}
            onClick={() => created && void copyText(created.key).then(setCopied)}
          >
            <Copy aria-hidden className="h-4 w-4" />
          </IconButton>
        </div>
      </Dialog>
      <ConfirmDialog
        open={revoking !== null}
        title={t('keys.revokeTitle')}
        message={t('keys.revokeConfirm', { name: revoking?.name ?? '' })}
        confirmLabel={t('keys.revoke')}
        danger
        onConfirm={() =>
          revoking &&
          void revokeKey(revoking.id)
            .then(refresh)
            .catch(setError)
        }
        onClose={() => setRevoking(null)}
      />
    </Card>
  );
}
