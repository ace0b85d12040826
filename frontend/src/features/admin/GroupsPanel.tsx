import { Pencil, Plus, Trash2, Users } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { DataTable } from '../../components/ui/DataTable';
import { ConfirmDialog } from '../../components/ui/Dialog';
import { Badge, ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import { listProfiles } from './api';
import { GroupDialog } from './GroupDialog';
import { GroupMembersDialog } from './GroupMembersDialog';
import type { ProfileNames } from './groupModels';
import { deleteGroup, listGroups, type GroupPublic } from './groupsApi';
import { setLimits } from './limitFields';

/** Groups: who may use which models, with which limits; a user gets the most generous. */
export function GroupsPanel() {
  const t = useT();
  const format = useFormat();
  const [groups, setGroups] = useState<GroupPublic[] | null>(null);
  const [profiles, setProfiles] = useState<ProfileNames[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<GroupPublic | null | undefined>(undefined);
  const [membersOf, setMembersOf] = useState<GroupPublic | null>(null);
  const [deleting, setDeleting] = useState<GroupPublic | null>(null);

  const refresh = useCallback(async () => {
    try {
      setGroups((await listGroups()).data);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    const timer = window.setTimeout(() => void refresh(), 0);
    listProfiles().then((page) => setProfiles(page.data.map((p) => ({ name: p.name, aliases: p.aliases }))), setError);
    return () => window.clearTimeout(timer);
  }, [refresh]);

  const remove = async (group: GroupPublic) => {
    try {
      await deleteGroup(group.id);
      await refresh();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <p className="text-sm text-zinc-500">{t('groups.intro')}</p>
        <Button variant="primary" icon={<Plus aria-hidden className="h-4 w-4" />} onClick={() => setEditing(null)}>
          {t('groups.create')}
        </Button>
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => void refresh()} /> : null}
      {groups === null ? (
        <Spinner label={t('common.loading')} />
      ) : groups.length === 0 ? (
        <p className="text-sm text-zinc-500">{t('groups.empty')}</p>
      ) : (
        <DataTable
          label={t('admin.groups')}
          columns={[{ label: t('groups.name') }, { label: t('groups.models') }, { label: t('groups.limits') }, { label: t('groups.members'), numeric: true }]}
          actions
        >
          {groups.map((group) => (
            <tr key={group.id} data-group={group.name}>
              <td className="max-w-64">
                <div className="truncate font-medium">{group.name}</div>
                {group.description ? <div className="truncate text-xs text-zinc-500">{group.description}</div> : null}
              </td>
              <td>
                {group.models.length ? (
                  <span className="flex flex-wrap gap-1">
                    {group.models.map((model) => (
                      <Badge key={model} tone="blue">
                        {model}
                      </Badge>
                    ))}
                  </span>
                ) : (
                  <span className="text-zinc-500">{t('groups.allModels')}</span>
                )}
              </td>
              <td className="text-xs">
                {setLimits(group.limits).map((limit) => (
                  <div key={limit.key} className="whitespace-nowrap">
                    {t(limit.label)}: {limit.value === 0 ? t('groups.unlimited') : format.number(limit.value)}
                  </div>
                ))}
                {setLimits(group.limits).length ? null : <span className="text-zinc-500">{t('limits.default')}</span>}
              </td>
              <td className="text-right tabular-nums">{format.number(group.member_count)}</td>
              <td className="text-right whitespace-nowrap">
                <IconButton label={t('groups.membersOf', { name: group.name })} onClick={() => setMembersOf(group)}>
                  <Users aria-hidden className="h-4 w-4" />
                </IconButton>
                <IconButton label={t('groups.editTitle', { name: group.name })} onClick={() => setEditing(group)}>
                  <Pencil aria-hidden className="h-4 w-4" />
                </IconButton>
                <IconButton label={t('groups.deleteTitle', { name: group.name })} onClick={() => setDeleting(group)}>
                  <Trash2 aria-hidden className="h-4 w-4" />
                </IconButton>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <GroupDialog group={editing} profiles={profiles} onClose={() => setEditing(undefined)} onSaved={() => void refresh()} />
      <GroupMembersDialog key={membersOf?.id ?? 0} group={membersOf} onClose={() => setMembersOf(null)} onChanged={() => void refresh()} />
      <ConfirmDialog
        open={deleting !== null}
        title={t('groups.deleteTitle', { name: deleting?.name ?? '' })}
        message={t('groups.deleteConfirm', { name: deleting?.name ?? '' })}
        confirmLabel={t('common.delete')}
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onClose={() => setDeleting(null)}
      />
    </div>
  );
}
