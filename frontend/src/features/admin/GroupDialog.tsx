import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Dialog } from '../../components/ui/Dialog';
import { ErrorNotice } from '../../components/ui/Feedback';
import { TextArea, TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { checkedProfiles, modelsToSave, type ProfileNames } from './groupModels';
import { createGroup, updateGroup, type GroupPublic } from './groupsApi';
import { LimitInputs } from './LimitInputs';
import { formFromLimits, limitsFromForm, setLimits } from './limitFields';

interface Props {
  /** The group to edit; `null`: a new group; `undefined`: closed. */
  group: GroupPublic | null | undefined;
  profiles: readonly ProfileNames[];
  onClose: () => void;
  onSaved: () => void;
}

/** Create or edit a group: its name, description, models (none checked: all) and limits. */
export function GroupDialog({ group, profiles, onClose, onSaved }: Props) {
  const t = useT();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [limits, setLimitsForm] = useState(formFromLimits(null));
  const [error, setError] = useState<unknown>(null);
  // Another group (or a new one): the fields start from it.
  const [valuesOf, setValuesOf] = useState<GroupPublic | null | undefined>(undefined);
  if (valuesOf !== group) {
    setValuesOf(group);
    setError(null);
    setName(group?.name ?? '');
    setDescription(group?.description ?? '');
    setChecked(checkedProfiles(group?.models ?? [], profiles));
    setLimitsForm(formFromLimits(group?.limits));
  }
  if (group === undefined) return null;
  const toggle = (profile: string, on: boolean) =>
    setChecked((before) => {
      const next = new Set(before);
      if (on) next.add(profile);
      else next.delete(profile);
      return next;
    });
  const save = async () => {
    const parsed = limitsFromForm(limits);
    const body = {
      name: name.trim(),
      description,
      models: modelsToSave(group?.models ?? [], checked, profiles),
      limits: setLimits(parsed).length ? parsed : null,
    };
    try {
      if (group) await updateGroup(group.id, body);
      else await createGroup(body);
      onSaved();
      onClose();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog
      open
      title={group ? t('groups.editTitle', { name: group.name }) : t('groups.create')}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button variant="primary" disabled={!name.trim()} onClick={() => void save()}>
            {t('common.save')}
          </Button>
        </>
      }
    >
      <TextInput label={t('groups.name')} required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
      <TextArea label={t('groups.description')} rows={2} maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
      <fieldset className="flex flex-col gap-1">
        <legend className="mb-1 text-sm font-medium text-zinc-700 dark:text-zinc-300">{t('groups.models')}</legend>
        {profiles.map((profile) => (
          <label key={profile.name} className="inline-flex items-center gap-2">
            <input type="checkbox" aria-label={profile.name} checked={checked.has(profile.name)} onChange={(e) => toggle(profile.name, e.target.checked)} />
            <span>{profile.name}</span>
            {profile.aliases.length ? <span className="text-xs text-zinc-500">{profile.aliases.join(', ')}</span> : null}
          </label>
        ))}
        <p className="text-xs text-zinc-500 dark:text-zinc-400">{t('groups.modelsHint')}</p>
      </fieldset>
      <p className="text-zinc-500">{t('groups.limitsHint')}</p>
      <LimitInputs values={limits} onChange={setLimitsForm} />
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
