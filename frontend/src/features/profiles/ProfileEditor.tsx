import { Save } from 'lucide-react';
import { useEffect, useState } from 'react';
import { ApiError } from '../../api/errors';
import { Button } from '../../components/ui/Button';
import { Badge, Card, ErrorNotice } from '../../components/ui/Feedback';
import { TextArea } from '../../components/ui/Field';
import { useT } from '../../i18n';
import { createDefinition, previewProfile, updateDefinition, type ProfileDefinition, type ProfilePreview } from './api';
import { commandLine } from './commandLine';

const PREVIEW_DELAY_MS = 400;

interface Props {
  /** The profile edited, or null for a new one (`text` is its template). The parent keys
   * the editor by profile, so another profile starts a fresh editor. */
  definition: ProfileDefinition | null;
  text: string;
  editable: boolean;
  onSaved: (saved: ProfileDefinition) => void;
}

/** A generic editor: the profile document as YAML, checked by the server as it changes
 * (errors by field path) with the exact command line it would run. A field added to the
 * schema needs no change here. */
export function ProfileEditor({ definition, text: initial, editable, onSaved }: Props) {
  const t = useT();
  const [text, setText] = useState(initial);
  const [preview, setPreview] = useState<ProfilePreview | null>(null);
  const [invalid, setInvalid] = useState<ApiError | null>(null);
  const [checked, setChecked] = useState<string | null>(null); // the text the server last judged
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);

  const checking = checked !== text;
  useEffect(() => {
    let current = true;
    const timer = window.setTimeout(() => {
      previewProfile(text).then(
        (answer) => {
          if (!current) return;
          setPreview(answer);
          setInvalid(null);
          setChecked(text);
        },
        (error: unknown) => {
          if (!current) return;
          setPreview(null);
          setInvalid(error instanceof ApiError ? error : null);
          setChecked(text);
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [text]);

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      onSaved(definition ? await updateDefinition(definition.name, text) : await createDefinition(text));
    } catch (error) {
      setSaveError(error);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Card className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="flex-1 font-semibold">{definition ? t('profiles.editing', { name: definition.name }) : t('profiles.new')}</h2>
        {definition?.restart_needed ? (
          <Badge tone="amber" title={t('profiles.restartHint')}>
            {t('profiles.restartNeeded')}
          </Badge>
        ) : null}
        <span data-testid="profile-validity">
          {checking ? <Badge>{t('profiles.checking')}</Badge> : invalid ? null : <Badge tone="green">{t('profiles.valid')}</Badge>}
        </span>
      </div>
      <TextArea
        label={t('profiles.document')}
        hint={t('profiles.documentHint')}
        value={text}
        onChange={(event) => setText(event.target.value)}
        readOnly={!editable}
        spellCheck={false}
        rows={18}
        className="w-full rounded-lg border border-zinc-300 bg-white px-3 py-2 font-mono text-xs dark:border-zinc-700 dark:bg-zinc-950"
        data-testid="profile-text"
      />
      {invalid ? (
        <div role="alert" data-testid="profile-invalid" className="rounded bg-red-50 p-2 text-xs break-words text-red-800 dark:bg-red-950/50 dark:text-red-200">
          {invalid.param ? <strong className="mr-1 font-mono">{t('profiles.errorAt', { path: invalid.param })}:</strong> : null}
          {invalid.message}
        </div>
      ) : null}
      {preview ? <PreviewPanel preview={preview} /> : null}
      {saveError ? <ErrorNotice error={saveError} /> : null}
      {editable ? (
        <div className="flex justify-end">
          <Button variant="primary" icon={<Save aria-hidden className="h-4 w-4" />} disabled={saving || checking || invalid !== null} onClick={() => void save()}>
            {t('common.save')}
          </Button>
        </div>
      ) : null}
    </Card>
  );
}

function PreviewPanel({ preview }: { preview: ProfilePreview }) {
  const t = useT();
  return (
    <section aria-label={t('profiles.preview')} className="flex flex-col gap-1.5 text-xs">
      <h3 className="font-semibold">{t('profiles.preview')}</h3>
      {preview.argv ? (
        <>
          <pre data-testid="profile-preview" className="overflow-x-auto rounded bg-zinc-900 p-2 font-mono whitespace-pre-wrap break-all text-zinc-100">
            {commandLine(preview.argv)}
          </pre>
          <p className="text-zinc-500">{t('profiles.previewHint')}</p>
        </>
      ) : (
        <p data-testid="profile-preview">{t('profiles.external', { urls: preview.urls.join(', ') })}</p>
      )}
      {preview.env.length ? (
        <>
          <h3 className="font-semibold">{t('profiles.env')}</h3>
          <ul className="font-mono">
            {preview.env.map((entry) => (
              <li key={entry.name}>
                {entry.name}
                {entry.value !== null ? `=${entry.value}` : ` ${t('profiles.envSecret', { source: entry.source ?? '' })}`}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {preview.unavailable ? <p className="text-amber-700 dark:text-amber-400">{t('profiles.unavailable', { reason: preview.unavailable })}</p> : null}
    </section>
  );
}
