import { FileText, Play, Square, Star } from 'lucide-react';
import { useState } from 'react';
import { Button } from '../../components/ui/Button';
import { ConfirmDialog } from '../../components/ui/Dialog';
import { Badge, Card, ErrorNotice, ProgressBar, type Tone } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import { noticeText } from '../../i18n/notices';
import { activateProfile, stopProfile, type Benchmark, type EngineState, type EngineStatus, type GpuReport, type ProfilePolicy } from './api';
import { GpuBars } from './GpuBars';
import { LogViewer } from './LogViewer';

const STATE_TONES: Record<EngineState, Tone> = {
  ready: 'green',
  starting: 'amber',
  draining: 'amber',
  stopping: 'amber',
  stopped: 'gray',
  failed: 'red',
};

interface Props {
  engine: EngineStatus;
  gpus: GpuReport | null;
  benchmark: Benchmark | undefined;
  policy?: ProfilePolicy;
  onChanged: () => void;
}

export function ProfileCard({ engine, gpus, benchmark, policy, onChanged }: Props) {
  const t = useT();
  const format = useFormat();
  const [confirm, setConfirm] = useState<'activate' | 'stop' | null>(null);
  const [logs, setLogs] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const running = engine.state !== 'stopped' && engine.state !== 'failed';

  const act = async (action: 'activate' | 'stop') => {
    setError(null);
    try {
      await (action === 'activate' ? activateProfile(engine.name) : stopProfile(engine.name));
      onChanged();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card className="flex flex-col gap-3">
      <div className="flex flex-wrap items-start gap-2" data-testid={`profile-${engine.name}`}>
        <div className="min-w-0 flex-1">
          <h2 className="flex items-center gap-2 font-semibold">
            {engine.active ? <Star aria-label={t('models.active')} className="h-4 w-4 fill-amber-400 text-amber-400" /> : null}
            {engine.name}
            <span className="text-xs font-normal text-zinc-500">{engine.engine}</span>
          </h2>
          {engine.aliases.length ? <p className="truncate text-xs text-zinc-500">{engine.aliases.join(', ')}</p> : null}
        </div>
        <span data-testid={`state-${engine.name}`} data-state={engine.state}>
          <Badge tone={STATE_TONES[engine.state] ?? 'gray'}>{t(`engineState.${engine.state}`)}</Badge>
        </span>
        {engine.healthy === false ? <Badge tone="red">{t('models.unhealthy')}</Badge> : null}
        {engine.held ? <Badge>{t('models.held')}</Badge> : null}
        {engine.restart_needed ? (
          <Badge tone="amber" title={t('profiles.restartHint')}>
            {t('profiles.restartNeeded')}
          </Badge>
        ) : null}
      </div>
      {engine.state === 'starting' ? (
        <div className="flex flex-col gap-1 text-xs text-zinc-600 dark:text-zinc-400">
          <span>
            {engine.phase ? noticeText(t, engine.phase_code, {}, engine.phase) : t('models.starting')}
            {engine.progress !== null ? ` · ${Math.round(engine.progress)}%` : ''}
          </span>
          <ProgressBar value={engine.progress === null ? null : engine.progress / 100} label={t('models.loadProgress', { name: engine.name })} />
        </div>
      ) : null}
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs sm:grid-cols-4">
        <Stat label={t('models.inflight')} value={format.number(engine.inflight)} />
        <Stat label={t('models.waiting')} value={format.number(engine.waiting)} />
        <Stat label={t('models.uptime')} value={engine.uptime_s !== null ? duration(engine.uptime_s) : '—'} />
        <Stat label={t('models.process')} value={engine.pid !== null ? `pid ${engine.pid} · :${engine.port ?? '—'}` : '—'} />
        {engine.switch_s != null ? <Stat label={t('models.switchTime')} value={duration(engine.switch_s)} /> : null}
      </dl>
      {policy ? <PolicyLines name={engine.name} policy={policy} /> : null}
      {engine.gpus.length ? <GpuBars report={gpus} only={engine.gpus} /> : null}
      {!engine.available ? (
        <p className="text-xs text-amber-700 dark:text-amber-400">
          {t('models.unavailable', { reason: noticeText(t, engine.reason_code, engine.reason_params, engine.reason ?? '') })}
        </p>
      ) : null}
      {engine.last_error ? <LastError engine={engine} /> : null}
      {benchmark ? <BenchmarkLine benchmark={benchmark} /> : null}
      {error ? <ErrorNotice error={error} /> : null}
      <div className="flex flex-wrap gap-2">
        <Button
          size="sm"
          variant="primary"
          icon={<Play aria-hidden className="h-3.5 w-3.5" />}
          disabled={!engine.available || (engine.active && engine.state === 'ready')}
          onClick={() => setConfirm('activate')}
        >
          {t('models.activate')}
        </Button>
        <Button size="sm" icon={<Square aria-hidden className="h-3.5 w-3.5" />} disabled={!running} onClick={() => setConfirm('stop')}>
          {t('models.stop')}
        </Button>
        <Button size="sm" variant="ghost" icon={<FileText aria-hidden className="h-3.5 w-3.5" />} aria-expanded={logs} onClick={() => setLogs((v) => !v)}>
          {logs ? t('models.hideLogs') : t('models.logs')}
        </Button>
      </div>
      {logs ? <LogViewer profile={engine.name} /> : null}
      <ConfirmDialog
        open={confirm !== null}
        title={confirm === 'stop' ? t('models.stopTitle', { name: engine.name }) : t('models.activateTitle', { name: engine.name })}
        message={confirm === 'stop' ? t('models.stopConfirm') : t('models.activateConfirm')}
        confirmLabel={confirm === 'stop' ? t('models.stop') : t('models.activate')}
        danger={confirm === 'stop'}
        onConfirm={() => confirm && void act(confirm)}
        onClose={() => setConfirm(null)}
      />
    </Card>
  );
}

/** Why the engine failed (translated), then the engine log's last lines as they are. */
function LastError({ engine }: { engine: EngineStatus }) {
  const t = useT();
  const [first = '', ...rest] = (engine.last_error ?? '').split('\n');
  const headline = noticeText(t, engine.last_error_code, engine.last_error_params, first);
  return (
    <p className="rounded bg-red-50 p-2 text-xs break-words whitespace-pre-wrap text-red-800 dark:bg-red-950/50 dark:text-red-200">
      {[headline, ...rest].join('\n')}
    </p>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt className="text-zinc-500">{label}</dt>
      <dd className="tabular-nums">{value}</dd>
    </div>
  );
}

/** What the profiles file sets for every chat: sampling defaults, the cap, the system prompt. */
function PolicyLines({ name, policy }: { name: string; policy: ProfilePolicy }) {
  const t = useT();
  const format = useFormat();
  const d = policy.defaults;
  const values: [string, number | null][] = [
    [t('params.temperature'), d.temperature],
    [t('params.topP'), d.top_p],
    [t('params.maxTokens'), d.max_tokens],
    [t('models.repetitionPenalty'), d.repetition_penalty],
    [t('models.repetitionWindow'), d.repetition_window],
    [t('models.frequencyPenalty'), d.frequency_penalty],
    [t('models.presencePenalty'), d.presence_penalty],
  ];
  const set = values.filter((entry): entry is [string, number] => entry[1] !== null);
  return (
    <div className="flex flex-col gap-1 text-xs" data-testid={`policy-${name}`}>
      <p>
        <span className="text-zinc-500">{t('models.defaults')}: </span>
        <span className="tabular-nums">
          {set.length ? set.map(([label, value]) => `${label} ${format.number(value, 2)}`).join(' · ') : t('models.defaultsNone')}
          {` (${t('params.maxTokens')} ${t('models.maxTokensCap', { count: format.number(policy.max_tokens_cap) })})`}
        </span>
      </p>
      <div>
        <span className="text-zinc-500">{t('models.systemPrompt')}: </span>
        {policy.system_prompt ? (
          <p className="mt-0.5 max-h-24 overflow-y-auto rounded bg-zinc-50 p-2 break-words whitespace-pre-wrap dark:bg-zinc-800">{policy.system_prompt}</p>
        ) : (
          <span>{t('models.systemPromptNone')}</span>
        )}
      </div>
    </div>
  );
}

function BenchmarkLine({ benchmark }: { benchmark: Benchmark }) {
  const t = useT();
  const format = useFormat();
  const num = (value: unknown) => (typeof value === 'number' ? format.number(value, 1) : '—');
  // results: {"concurrency_1": {ttft_ms_p50, tpot_ms, requests_per_min, …}, …}
  const levels = Object.entries(benchmark.results).filter(
    (entry): entry is [string, Record<string, unknown>] => typeof entry[1] === 'object' && entry[1] !== null,
  );
  return (
    <div className="text-xs text-zinc-600 dark:text-zinc-400">
      <p className="font-medium">{t('models.benchmark', { when: format.dateTime(benchmark.created) })}</p>
      <ul>
        {levels.map(([level, r]) => (
          <li key={level} className="tabular-nums">
            {t('models.benchmarkLevel', {
              concurrency: level.replace(/^concurrency_/, ''),
              ttft: num(r.ttft_ms_p50),
              tpot: num(r.tpot_ms),
              rpm: num(r.requests_per_min),
            })}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
