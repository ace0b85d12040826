import { Gauge, KeyRound, KeySquare, Plus, Search } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { ConfirmDialog, Dialog } from '../../components/ui/Dialog';
import { Badge, ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { inputClass, Select, TextInput } from '../../components/ui/Field';
import { useFormat, useT } from '../../i18n';
import type { Role } from '../auth/api';
import { useSession } from '../auth/session';
import { createUser, listUsers, resetPassword, updateUser, type UserPublic } from './api';
import { LimitsDialog } from './LimitsDialog';
import { UserKeysDialog } from './UserKeysDialog';
import { Pager } from '../../components/ui/Pager';
import { DataTable } from '../../components/ui/DataTable';

const PAGE = 50;

export function UsersPanel() {
  const t = useT();
  const format = useFormat();
  const me = useSession((s) => s.me);
  const [q, setQ] = useState('');
  const [page, setPage] = useState(0);
  const [data, setData] = useState<{ data: UserPublic[]; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [limitsOf, setLimitsOf] = useState<UserPublic | null>(null);
  const [keysOf, setKeysOf] = useState<UserPublic | null>(null);
  const [resetting, setResetting] = useState<UserPublic | null>(null);
  const [secret, setSecret] = useState<{ email: string; password: string } | null>(null);

  const refresh = useCallback(async () => {
    try {
      setData(await listUsers(q, PAGE, page * PAGE));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [q, page]);
  useEffect(() => {
    const timer = window.setTimeout(() => void refresh(), 200);
    return () => window.clearTimeout(timer);
  }, [refresh]);

  const change = async (user: UserPublic, body: { role?: Role; disabled?: boolean }) => {
    try {
      await updateUser(user.id, body);
      await refresh();
    } catch (e) {
      setError(e);
    }
  };

  const reset = async (user: UserPublic) => {
    try {
      const result = await resetPassword(user.id);
      if (result.password) setSecret({ email: user.email, password: result.password });
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2">
        <div className="relative min-w-48 flex-1">
          <Search aria-hidden className="pointer-events-none absolute top-2.5 left-2.5 h-4 w-4 text-zinc-400" />
          <input
            type="search"
            aria-label={t('users.search')}
            placeholder={t('users.search')}
            className={`${inputClass} pl-8`}
            value={q}
            onChange={(event) => {
              setQ(event.target.value);
              setPage(0);
            }}
          />
        </div>
        <Button variant="primary" icon={<Plus aria-hidden className="h-4 w-4" />} onClick={() => setCreating(true)}>
          {t('users.create')}
        </Button>
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => void refresh()} /> : null}
      {data === null ? (
        <Spinner label={t('common.loading')} />
      ) : (
        <div>
          <DataTable
            label={t('admin.users')}
            columns={[
              { label: t('users.email') },
              { label: t('users.groups') },
              { label: t('users.role') },
              { label: t('users.status') },
              { label: t('users.created') },
            ]}
            actions
          >
            {data.data.map((user) => (
              <tr key={user.id}>
                <td className="max-w-64 truncate">
                  {user.email}
                  {user.limits && Object.values(user.limits).some((v) => v !== null) ? (
                    <span className="ml-1">
                      <Badge tone="blue">{t('users.customLimits')}</Badge>
                    </span>
                  ) : null}
                </td>
                <td>
                  {user.groups?.length ? (
                    <span className="flex flex-wrap gap-1">
                      {user.groups.map((name) => (
                        <Badge key={name}>{name}</Badge>
                      ))}
                    </span>
                  ) : (
                    <span className="text-zinc-500">—</span>
                  )}
                </td>
                <td>
                  <select
                    aria-label={t('users.roleOf', { email: user.email })}
                    className="rounded border border-zinc-300 bg-transparent px-1 py-0.5 text-sm dark:border-zinc-600"
                    value={user.role}
                    disabled={user.id === me?.id}
                    onChange={(event) => void change(user, { role: event.target.value as Role })}
                  >
                    <option value="user">{t('users.roleUser')}</option>
                    <option value="admin">{t('users.roleAdmin')}</option>
                  </select>
                </td>
                <td>
                  <label className="inline-flex items-center gap-1.5">
                    <input
                      type="checkbox"
                      checked={!user.disabled}
                      disabled={user.id === me?.id}
                      onChange={(event) => void change(user, { disabled: !event.target.checked })}
                    />
                    {user.disabled ? t('users.disabled') : t('users.active')}
                  </label>
                </td>
                <td>{format.date(user.created)}</td>
                <td className="text-right whitespace-nowrap">
                  <IconButton label={t('users.limitsOf', { email: user.email })} onClick={() => setLimitsOf(user)}>
                    <Gauge aria-hidden className="h-4 w-4" />
                  </IconButton>
                  <IconButton label={t('users.keysOf', { email: user.email })} onClick={() => setKeysOf(user)}>
                    <KeySquare aria-hidden className="h-4 w-4" />
                  </IconButton>
                  <IconButton label={t('users.resetPassword')} onClick={() => setResetting(user)}>
                    <KeyRound aria-hidden className="h-4 w-4" />
                  </IconButton>
                </td>
              </tr>
            ))}
          </DataTable>
          <Pager summary={t('users.total', { count: data.total })} page={page} pageSize={PAGE} total={data.total} onPage={setPage} />
        </div>
      )}
      <CreateUserDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(email, password) => {
          void refresh();
          if (password) setSecret({ email, password });
        }}
      />
      <LimitsDialog user={limitsOf} onClose={() => setLimitsOf(null)} onSaved={() => void refresh()} />
      <UserKeysDialog user={keysOf} onClose={() => setKeysOf(null)} />
      <ConfirmDialog
        open={resetting !== null}
        title={t('users.resetPassword')}
        message={t('users.resetConfirm', { email: resetting?.email ?? '' })}
        confirmLabel={t('users.resetPassword')}
        danger
        onConfirm={() => resetting && void reset(resetting)}
        onClose={() => setResetting(null)}
      />
      <Dialog
        open={secret !== null}
        title={t('users.passwordTitle')}
        onClose={() => setSecret(null)}
        footer={
          <Button variant="primary" onClick={() => setSecret(null)}>
            {t('common.done')}
          </Button>
        }
      >
        <p>{t('users.passwordOnce', { email: secret?.email ?? '' })}</p>
        <code className="rounded bg-zinc-100 p-2 break-all select-all dark:bg-zinc-800">{secret?.password}</code>
      </Dialog>
    </div>
  );
}

function CreateUserDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (email: string, password: string | null) => void }) {
  const t = useT();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [error, setError] = useState<unknown>(null);
  const submit = async () => {
    setError(null);
    try {
      const body: { email: string; role: Role; password?: string } = { email: email.trim(), role };
      if (password) body.password = password;
      const result = await createUser(body);
      onCreated(result.user.email, result.password);
      setEmail('');
      setPassword('');
      setRole('user');
      onClose();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog
      open={open}
      title={t('users.create')}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" disabled={!email.trim()} onClick={() => void submit()}>
            {t('users.create')}
          </Button>
        </>
      }
    >
      <TextInput label={t('users.email')} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <TextInput label={t('users.password')} type="password" autoComplete="new-password" minLength={8} hint={t('users.passwordGenerated')} value={password} onChange={(e) => setPassword(e.target.value)} />
      <Select label={t('users.role')} value={role} onChange={(e) => setRole(e.target.value as Role)}>
        <option value="user">{t('users.roleUser')}</option>
        <option value="admin">{t('users.roleAdmin')}</option>
      </Select>
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
