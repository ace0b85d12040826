import { useEffect, useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Dialog } from '../../components/ui/Dialog';
import { ErrorNotice } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import type { ApiKey } from '../settings/api';
import { listUserKeys, revokeUserKey, type UserPublic } from './api';

/** Another user's working API keys; the admin revokes one (a leaked key, someone leaving). */
export function UserKeysDialog({ user, onClose }: { user: UserPublic | null; onClose: () => void }) {
  const t = useT();
  const format = useFormat();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const userId = user?.id;
  // Another user: start from nothing while their keys load.
  const [keysOf, setKeysOf] = useState<number | undefined>(undefined);
  if (keysOf !== userId) {
    setKeysOf(userId);
    setKeys(null);
    setError(null);
    setConfirming(null);
  }

  useEffect(() => {
    if (userId === undefined) return;
    let current = true;
    listUserKeys(userId)
      .then((found) => current && setKeys(found))
      .catch((e: unknown) => current && setError(e));
    return () => {
      current = false;
    };
  }, [userId]);

  if (!user) return null;
  const revoke = async (key: ApiKey) => {
    try {
      await revokeUserKey(user.id, key.id);
      setKeys((found) => found?.filter((k) => k.id !== key.id) ?? null);
      setConfirming(null);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog open title={t('users.keysOf', { email: user.email })} onClose={onClose} footer={<Button onClick={onClose}>{t('common.close')}</Button>}>
      {error ? <ErrorNotice error={error} /> : null}
      {keys?.length === 0 ? <p className="text-zinc-500">{t('keys.none')}</p> : null}
      <ul className="divide-y divide-zinc-200 dark:divide-zinc-800">
        {keys?.map((key) => (
          <li key={key.id} className="flex items-center gap-3 py-2">
            <div className="min-w-0 flex-1">
              <div className="truncate font-medium">{key.name}</div>
              <div className="text-xs text-zinc-500">
                <code>{key.prefix}…</code> · {t('keys.lastUsed')}: {key.last_used ? format.dateTime(key.last_used) : '—'}
              </div>
            </div>
            {confirming === key.id ? (
              <Button size="sm" variant="danger" onClick={() => void revoke(key)}>
                {t('users.revokeNow')}
              </Button>
            ) : (
              <Button size="sm" onClick={() => setConfirming(key.id)} aria-label={`${t('keys.revoke')}: ${key.name}`}>
                {t('keys.revoke')}
              </Button>
            )}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
