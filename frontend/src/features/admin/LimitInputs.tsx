import { TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { LIMIT_FIELDS, type LimitsForm } from './limitFields';

/** One number field per limit, two to a row; empty means "the default". */
export function LimitInputs({ values, onChange }: { values: LimitsForm; onChange: (values: LimitsForm) => void }) {
  const t = useT();
  return (
    <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
      {LIMIT_FIELDS.map(({ key, label }) => (
        <TextInput
          key={key}
          label={t(label)}
          type="number"
          min={0}
          placeholder={t('limits.default')}
          value={values[key]}
          onChange={(event) => onChange({ ...values, [key]: event.target.value })}
        />
      ))}
    </div>
  );
}
