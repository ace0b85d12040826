import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { Card, ErrorNotice } from '../../components/ui/Feedback';
import { Field, TextArea, TextInput } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { useSession } from '../auth/session';
import { ModelPicker } from '../chat/ModelPicker';
import { useModelPolling } from '../chat/models';

/** What a new chat starts with: system prompt, model and sampling parameters. */
export function DefaultsForm() {
  const t = useT();
  const settings = useSession((s) => s.me?.settings);
  const saveSettings = useSession((s) => s.saveSettings);
  useModelPolling(30000);
  const [prompt, setPrompt] = useState('');
  const [model, setModel] = useState('default');
  const [temperature, setTemperature] = useState('');
  const [topP, setTopP] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  // The fields show the saved settings again whenever those change (loaded, saved).
  const [fieldsOf, setFieldsOf] = useState<typeof settings | null>(null);
  if (fieldsOf !== settings) {
    setFieldsOf(settings);
    setPrompt(settings?.system_prompt ?? '');
    setModel(settings?.model ?? 'default');
    setTemperature(settings?.temperature?.toString() ?? '');
    setTopP(settings?.top_p?.toString() ?? '');
    setMaxTokens(settings?.max_tokens?.toString() ?? '');
  }

  const save = async () => {
    setError(null);
    try {
      await saveSettings({
        system_prompt: prompt,
        model,
        temperature: temperature === '' ? null : Number(temperature),
        top_p: topP === '' ? null : Number(topP),
        max_tokens: maxTokens === '' ? null : Math.round(Number(maxTokens)),
      });
      setSaved(true);
      window.setTimeout(() => setSaved(false), 2000);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card>
      <form
        className="flex flex-col gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <h2 className="font-semibold">{t('settings.defaults')}</h2>
        <TextArea label={t('chat.systemPrompt')} rows={4} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        <div className="grid gap-3 sm:grid-cols-4">
          <Field label={t('chat.model')}>{(id) => <ModelPicker id={id} value={model} onChange={setModel} />}</Field>
          <TextInput label={t('params.temperature')} type="number" min={0} max={2} step={0.1} placeholder={t('params.default')} value={temperature} onChange={(e) => setTemperature(e.target.value)} />
          <TextInput label={t('params.topP')} type="number" min={0.01} max={1} step={0.05} placeholder={t('params.default')} value={topP} onChange={(e) => setTopP(e.target.value)} />
          <TextInput label={t('params.maxTokens')} type="number" min={1} step={1} placeholder={t('params.default')} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
        </div>
        {error ? <ErrorNotice error={error} /> : null}
        <div>
          <Button variant="primary" type="submit">
            {saved ? t('common.saved') : t('common.save')}
          </Button>
        </div>
      </form>
    </Card>
  );
}
