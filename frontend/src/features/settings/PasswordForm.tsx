import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Card, ErrorNotice } from '../../components/ui/Feedback';
import { TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { changePassword } from '../auth/api';

export function PasswordForm() {
  const t = useT();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  return (
    <Card>
      <form
        className="flex flex-col gap-3"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          setDone(false);
          try {
            await changePassword(current, next);
            setCurrent('');
            setNext('');
            setDone(true);
          } catch (e) {
            setError(e);
          }
        }}
      >
        <h2 className="font-semibold">{t('settings.password')}</h2>
        <div className="grid gap-3 sm:grid-cols-2">
          <TextInput label={t('settings.currentPassword')} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          <TextInput label={t('settings.newPassword')} type="password" autoComplete="new-password" required minLength={8} hint={t('settings.passwordHint')} value={next} onChange={(e) => setNext(e.target.value)} />
        </div>
        {error ? <ErrorNotice error={error} /> : null}
        {done ? <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">{t('settings.passwordChanged')}</p> : null}
        <div>
          <Button type="submit">{t('settings.changePassword')}</Button>
        </div>
      </form>
    </Card>
  );
}
