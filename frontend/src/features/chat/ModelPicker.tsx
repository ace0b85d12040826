import { inputClass } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { useModels, type ModelEntry } from './models';

/** Aliases grouped by the profile that serves them, each marked ready or not. */
export function ModelPicker({ value, onChange, id }: { value: string; onChange: (model: string) => void; id?: string }) {
  const t = useT();
  const models = useModels((s) => s.models);
  const groups = new Map<string, ModelEntry[]>();
  for (const model of models) groups.set(model.root, [...(groups.get(model.root) ?? []), model]);
  const known = models.some((model) => model.id === value);
  return (
    <select
      id={id}
      aria-label={t('chat.model')}
      className={`${inputClass} w-auto max-w-[11rem] py-1.5 sm:max-w-[15rem]`}
      value={value}
      onChange={(event) => onChange(event.target.value)}
    >
      {!known ? <option value={value}>{value}</option> : null}
      {[...groups.entries()].map(([root, entries]) => {
        const ready = entries.some((entry) => entry.ready);
        return (
          <optgroup key={root} label={`${root} · ${ready ? t('engine.ready') : t('engine.notRunning')}`}>
            {entries.map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.ready ? '● ' : '○ '}
                {entry.id}
              </option>
            ))}
          </optgroup>
        );
      })}
    </select>
  );
}
