import { UserMinus, UserPlus } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import { Button, IconButton } from '../../components/ui/Button';
import { Dialog } from '../../components/ui/Dialog';
import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { listUsers, type UserPublic } from './api';
import { addMember, getGroup, removeMember, type GroupDetail, type GroupPublic } from './groupsApi';

/** A group's members: remove one, or find a user by email and add them. */
export function GroupMembersDialog({ group, onClose, onChanged }: { group: GroupPublic | null; onClose: () => void; onChanged: () => void }) {
  const t = useT();
  const [detail, setDetail] = useState<GroupDetail | null>(null);
  const [q, setQ] = useState('');
  const [found, setFound] = useState<UserPublic[]>([]);
  const [error, setError] = useState<unknown>(null);
  const groupId = group?.id;

  // The parent keys this dialog by the group: another group starts with fresh state.
  const load = useCallback(() => {
    if (groupId !== undefined) getGroup(groupId).then(setDetail, setError);
  }, [groupId]);
  useEffect(load, [load]);
  useEffect(() => {
    if (!q.trim()) return;
    const timer = window.setTimeout(() => {
      listUsers(q.trim(), 8, 0).then((page) => setFound(page.data), setError);
    }, 200);
    return () => window.clearTimeout(timer);
  }, [q]);

  if (!group) return null;
  const change = async (userId: number, add: boolean) => {
    try {
      if (add) await addMember(group.id, userId);
      else await removeMember(group.id, userId);
      load();
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const memberIds = new Set(detail?.members.map((m) => m.id));
  return (
    <Dialog
      open
      title={t('groups.membersOf', { name: group.name })}
      onClose={onClose}
      footer={
        <Button variant="primary" onClick={onClose}>
          {t('common.done')}
        </Button>
      }
    >
      {detail === null ? (
        <Spinner label={t('common.loading')} />
      ) : detail.members.length === 0 ? (
        <p className="text-zinc-500">{t('groups.noMembers')}</p>
      ) : (
        <ul aria-label={t('groups.members')} className="flex max-h-56 flex-col overflow-y-auto">
          {detail.members.map((member) => (
            <li key={member.id} className="flex items-center justify-between gap-2 py-0.5">
              <span className="truncate">{member.email}</span>
              <IconButton label={t('groups.removeMember', { email: member.email })} onClick={() => void change(member.id, false)}>
                <UserMinus aria-hidden className="h-4 w-4" />
              </IconButton>
            </li>
          ))}
        </ul>
      )}
      <TextInput label={t('groups.addMember')} type="search" placeholder={t('users.search')} value={q} onChange={(e) => setQ(e.target.value)} />
      {q.trim() && found.length ? (
        <ul aria-label={t('groups.searchResults')} className="flex flex-col">
          {found.map((user) => (
            <li key={user.id} className="flex items-center justify-between gap-2 py-0.5">
              <span className="truncate">{user.email}</span>
              <IconButton label={t('groups.addUser', { email: user.email })} disabled={memberIds.has(user.id)} onClick={() => void change(user.id, true)}>
                <UserPlus aria-hidden className="h-4 w-4" />
              </IconButton>
            </li>
          ))}
        </ul>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
    </Dialog>
  );
}
