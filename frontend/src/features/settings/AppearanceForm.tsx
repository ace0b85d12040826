import { Card } from '../../components/ui/Feedback';
import { Field, Select } from '../../components/ui/Field';
import { useT } from '../../i18n';
import type { Theme } from '../auth/api';
import { useSession } from '../auth/session';
import { LanguageSelect } from './LanguageSelect';
import { applyTheme, storedTheme } from './theme';

export function AppearanceForm() {
  const t = useT();
  const theme = useSession((s) => s.me?.settings.theme) ?? storedTheme();
  const saveSettings = useSession((s) => s.saveSettings);
  return (
    <Card className="flex flex-col gap-3">
      <h2 className="font-semibold">{t('settings.appearance')}</h2>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label={t('settings.language')}>{(id) => <LanguageSelect id={id} />}</Field>
        <Select
          label={t('settings.theme')}
          value={theme}
          onChange={(event) => {
            const next = event.target.value as Theme;
            applyTheme(next);
            void saveSettings({ theme: next }).catch(() => undefined);
          }}
        >
          <option value="system">{t('settings.themeSystem')}</option>
          <option value="light">{t('settings.themeLight')}</option>
          <option value="dark">{t('settings.themeDark')}</option>
        </Select>
      </div>
    </Card>
  );
}
