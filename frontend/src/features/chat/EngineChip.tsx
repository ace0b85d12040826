import { Badge, type Tone } from '../../components/ui/Feedback';
import { useT, type Translate } from '../../i18n';
import { findModel, useModels, type ModelEntry } from './models';
import type { Waiting } from './store';

interface Props {
  model: string;
  waiting: Waiting | null;
}

/**
 * The chosen model's engine, for every user: ready or not running (from `/v1/models`), and
 * while this user's own request waits, its queue position or the engine's load progress
 * (from the stream's events).
 */
export function EngineChip({ model, waiting }: Props) {
  const t = useT();
  const entry = useModels((s) => findModel(s.models, model));
  const loaded = useModels((s) => s.loaded);
  if (!loaded) return null;
  const { tone, label } = describe(t, entry, waiting);
  return (
    <span role="status" aria-label={t('chat.engineStatus')} data-testid="engine-chip">
      <Badge tone={tone} title={entry ? `${entry.id} → ${entry.root}` : model}>
        <span aria-hidden className={`h-1.5 w-1.5 rounded-full ${DOT[tone]}`} />
        {label}
      </Badge>
    </span>
  );
}

const DOT: Record<Tone, string> = {
  green: 'bg-emerald-500',
  amber: 'bg-amber-500 animate-pulse',
  red: 'bg-red-500',
  gray: 'bg-zinc-400',
  blue: 'bg-indigo-500',
};

function describe(t: Translate, entry: ModelEntry | undefined, waiting: Waiting | null): { tone: Tone; label: string } {
  if (waiting?.kind === 'loading') {
    return {
      tone: 'amber',
      label: waiting.progress !== null ? t('engine.loadingPercent', { percent: Math.round(waiting.progress * 100) }) : t('engine.loading'),
    };
  }
  if (waiting?.kind === 'queue') return { tone: 'amber', label: t('engine.queue', { count: waiting.position }) };
  if (!entry) return { tone: 'red', label: t('engine.unknown') };
  if (entry.ready) return { tone: 'green', label: t('engine.ready') };
  return { tone: 'gray', label: t('engine.notRunning') };
}
