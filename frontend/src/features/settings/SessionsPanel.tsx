import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Card, ErrorNotice } from '../../components/ui/Feedback';
import { useT } from '../../i18n';
import { useSession } from '../auth/session';

/** Sign out on every device: every session token of this user ends server-side. */
export function SessionsPanel() {
  const t = useT();
  const logoutEverywhere = useSession((s) => s.logoutEverywhere);
  const [error, setError] = useState<unknown>(null);
  return (
    <Card className="flex flex-col gap-3">
      <h2 className="font-semibold">{t('settings.sessions')}</h2>
      <p className="text-sm text-zinc-600 dark:text-zinc-400">{t('settings.sessionsHint')}</p>
      {error ? <ErrorNotice error={error} /> : null}
      <div>
        <Button
          type="button"
          onClick={async () => {
            setError(null);
            try {
              await logoutEverywhere();
            } catch (e) {
              setError(e);
            }
          }}
        >
          {t('settings.logoutEverywhere')}
        </Button>
      </div>
    </Card>
  );
}
