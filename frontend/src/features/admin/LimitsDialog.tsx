import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Dialog } from '../../components/ui/Dialog';
import { ErrorNotice } from '../../components/ui/Feedback';
import { TextInput } from '../../components/ui/Field';
import { useT, type MessageKey } from '../../i18n';
import type { UserLimits } from '../auth/api';
import { updateUser, type UserPublic } from './api';

const FIELDS: { key: keyof UserLimits; label: MessageKey }[] = [
  { key: 'requests_per_minute', label: 'limits.requestsPerMinute' },
  { key: 'tokens_per_minute', label: 'limits.tokensPerMinute' },
  { key: 'concurrent_streams', label: 'limits.concurrentStreams' },
  { key: 'tokens_per_day', label: 'limits.tokensPerDay' },
  { key: 'tokens_per_month', label: 'limits.tokensPerMonth' },
];

/** Per-user overrides; an empty field means "the default limit". */
export function LimitsDialog({ user, onClose, onSaved }: { user: UserPublic | null; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  // Another user (or the same one saved): the fields start from that user's limits.
  const [valuesOf, setValuesOf] = useState<UserPublic | null | undefined>(undefined);
  if (valuesOf !== user) {
    setValuesOf(user);
    setError(null);
    setValues(Object.fromEntries(FIELDS.map(({ key }) => [key, user?.limits?.[key]?.toString() ?? ''])));
  }
  if (!user) return null;
  const save = async () => {
    const limits = Object.fromEntries(
      FIELDS.map(({ key }) => [key, values[key] ? Math.max(0, Math.round(Number(values[key]))) : null]),
    ) as unknown as UserLimits;
    try {
      await updateUser(user.id, { limits });
      onSaved();
      onClose();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog
      open
      title={t('users.limitsOf', { email: user.email })}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" onClick={() => void save()}>
            {t('common.save')}
          </Button>
        </>
      }
    >
      <p className="text-zinc-500">{t('limits.hint')}</p>
      {FIELDS.map(({ key, label }) => (
        <TextInput
          key={key}
          label={t(label)}
          type="number"
          min={0}
          placeholder={t('limits.default')}
          value={values[key] ?? ''}
          onChange={(event) => setValues((v) => ({ ...v, [key]: event.target.value }))}
        />
      ))}
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
