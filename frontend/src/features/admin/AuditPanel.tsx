import { DataTable } from '../../components/ui/DataTable';
import { Select, TextInput } from '../../components/ui/Field';
import { useFormat, useT, type MessageKey } from '../../i18n';
import en from '../../i18n/en';
import { ACTION_GROUPS, changeLines, type AuditEntry, type AuditFilters, type AuditLog } from './audit';

export function AuditFiltersBar({ filters, onChange }: { filters: AuditFilters; onChange: (filters: AuditFilters) => void }) {
  const t = useT();
  const set = (changes: Partial<AuditFilters>) => onChange({ ...filters, ...changes });
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5">
      <TextInput label={t('audit.actor')} placeholder={t('audit.actorHint')} value={filters.actor ?? ''} onChange={(e) => set({ actor: e.target.value })} />
      <Select label={t('audit.action')} value={filters.action ?? ''} onChange={(e) => set({ action: e.target.value })}>
        <option value="">{t('audit.actionAll')}</option>
        {ACTION_GROUPS.map((group) => (
          <option key={group} value={group}>
            {t(`audit.group.${group}`)}
          </option>
        ))}
      </Select>
      <TextInput label={t('audit.target')} placeholder={t('audit.targetHint')} value={filters.target ?? ''} onChange={(e) => set({ target: e.target.value })} />
      <TextInput label={t('audit.since')} type="date" value={filters.since ?? ''} onChange={(e) => set({ since: e.target.value })} />
      <TextInput label={t('audit.until')} type="date" value={filters.until ?? ''} onChange={(e) => set({ until: e.target.value })} />
    </div>
  );
}

/** The action's name in the reader's language; a code this UI does not know, as it is. */
function useActionLabel() {
  const t = useT();
  return (code: string) => {
    const key = `audit.action.${code}`;
    return key in en ? t(key as MessageKey) : code;
  };
}

/** `field: old → new` per changed field; a creation shows only the new values, a removal
 * only the old ones. */
function Changes({ entry }: { entry: AuditEntry }) {
  const lines = changeLines(entry.before, entry.after);
  if (lines.length === 0) return <span className="text-zinc-400">—</span>;
  const old = (text: string) => (
    <span className="rounded bg-red-50 px-1 text-red-800 line-through decoration-red-400/60 dark:bg-red-950/50 dark:text-red-200">{text}</span>
  );
  const now = (text: string) => <span className="rounded bg-green-50 px-1 text-green-800 dark:bg-green-950/50 dark:text-green-200">{text}</span>;
  return (
    <ul className="flex flex-col gap-0.5">
      {lines.map((line) => (
        <li key={line.field} className="flex flex-wrap items-center gap-1 text-xs">
          <span className="font-medium text-zinc-600 dark:text-zinc-300">{line.field}:</span>
          {entry.before ? old(line.before) : null}
          {entry.before && entry.after ? <span className="text-zinc-400">→</span> : null}
          {entry.after ? now(line.after) : null}
        </li>
      ))}
    </ul>
  );
}

/** One page of the log, newest first. */
export function AuditTable({ log }: { log: AuditLog }) {
  const t = useT();
  const format = useFormat();
  const label = useActionLabel();
  if (log.data.length === 0) return <p className="py-6 text-center text-sm text-zinc-500">{t('audit.empty')}</p>;
  return (
    <DataTable
      label={t('admin.audit')}
      columns={[{ label: t('audit.when') }, { label: t('audit.actor') }, { label: t('audit.action') }, { label: t('audit.target') }, { label: t('audit.changes') }, { label: t('audit.from') }]}
    >
      {log.data.map((entry) => (
        <tr key={entry.id}>
          <td className="whitespace-nowrap">{format.dateTime(entry.created)}</td>
          <td className="max-w-48 truncate" title={entry.actor_email}>
            {entry.actor_email === 'cli' ? t('audit.cli') : entry.actor_email}
          </td>
          <td className="whitespace-nowrap">
            <span className="block">{label(entry.action)}</span>
            <code className="text-xs text-zinc-500">{entry.action}</code>
          </td>
          <td className="max-w-56">
            <span className="block truncate" title={entry.target_name ?? undefined}>
              {entry.target_name ?? entry.target_id ?? '—'}
            </span>
            <span className="text-xs text-zinc-500">
              {entry.target_type}
              {entry.target_id && entry.target_name !== entry.target_id ? ` #${entry.target_id}` : ''}
            </span>
          </td>
          <td>
            <Changes entry={entry} />
          </td>
          <td className="text-xs whitespace-nowrap text-zinc-500">
            <span className="block">{entry.client_ip ?? '—'}</span>
            {entry.request_id ? <code title={`${t('audit.requestId')}: ${entry.request_id}`}>{entry.request_id.slice(0, 8)}</code> : null}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}
