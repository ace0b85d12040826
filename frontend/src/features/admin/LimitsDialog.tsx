import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Dialog } from '../../components/ui/Dialog';
import { ErrorNotice } from '../../components/ui/Feedback';
import { useT } from '../../i18n';
import { updateUser, type UserPublic } from './api';
import { LimitInputs } from './LimitInputs';
import { formFromLimits, limitsFromForm, type LimitsForm } from './limitFields';

/** Per-user overrides; an empty field means "the default limit" (or the user's groups'). */
export function LimitsDialog({ user, onClose, onSaved }: { user: UserPublic | null; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [values, setValues] = useState<LimitsForm>(formFromLimits(null));
  const [error, setError] = useState<unknown>(null);
  // Another user (or the same one saved): the fields start from that user's limits.
  const [valuesOf, setValuesOf] = useState<UserPublic | null | undefined>(undefined);
  if (valuesOf !== user) {
    setValuesOf(user);
    setError(null);
    setValues(formFromLimits(user?.limits));
  }
  if (!user) return null;
  const save = async () => {
    try {
      await updateUser(user.id, { limits: limitsFromForm(values) });
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
      <p className="text-zinc-500">{t(user.groups?.length ? 'limits.hintGroups' : 'limits.hint')}</p>
      <LimitInputs values={values} onChange={setValues} />
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
