import { Badge, Card, ErrorNotice, Spinner, type Tone } from '../../components/ui/Feedback';
import { GpuBars } from '../../features/admin/GpuBars';
import { LiveStreams } from '../../features/admin/LiveStreams';
import { useLive } from '../../features/admin/useLive';
import { useFormat, useT } from '../../i18n';

const TONE: Record<string, Tone> = { ready: 'green', starting: 'amber', draining: 'amber', stopping: 'amber', failed: 'red' };

export function AdminLive() {
  const t = useT();
  const format = useFormat();
  const live = useLive();
  const snapshot = live.snapshot;
  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{t('admin.live')}</h1>
        <Badge tone={live.connected ? 'green' : 'gray'}>{live.connected ? t('live.connected') : t('live.disconnected')}</Badge>
      </div>
      {live.error ? <ErrorNotice error={live.error} /> : null}
      {!snapshot ? (
        <Spinner label={t('common.loading')} />
      ) : (
        <>
          <div className="grid gap-4 md:grid-cols-2">
            <Card className="flex flex-col gap-2">
              <h2 className="text-sm font-semibold">{t('live.engines')}</h2>
              <ul className="flex flex-col gap-1.5 text-sm">
                {snapshot.engines.map((engine) => (
                  <li key={engine.name} className="flex items-center gap-2">
                    <span className="min-w-0 flex-1 truncate">
                      {engine.name}
                      {engine.active ? <span className="text-zinc-500"> · {t('models.active')}</span> : null}
                    </span>
                    <span className="text-xs text-zinc-500 tabular-nums">
                      {t('live.engineLoad', { inflight: engine.inflight, waiting: snapshot.queue[engine.name] ?? engine.waiting })}
                      {engine.load
                        ? ` · ${t('live.engineInside', {
                            running: engine.load.running,
                            waiting: engine.load.waiting,
                            kv: engine.load.kv_cache_usage === null ? '–' : Math.round(engine.load.kv_cache_usage * 100),
                          })}`
                        : null}
                    </span>
                    <Badge tone={TONE[engine.state] ?? 'gray'}>
                      {t(`engineState.${engine.state}`)}
                      {engine.state === 'starting' && engine.progress !== null ? ` ${Math.round(engine.progress)}%` : ''}
                    </Badge>
                  </li>
                ))}
              </ul>
            </Card>
            <Card className="flex flex-col gap-2">
              <h2 className="text-sm font-semibold">{t('gpu.title')}</h2>
              <GpuBars report={snapshot.gpus} />
            </Card>
          </div>
          <Card className="flex flex-col gap-2">
            <h2 className="text-sm font-semibold">
              {t('live.streams')} <span className="font-normal text-zinc-500">({format.number(snapshot.streams.length)})</span>
              <span className="ml-2 font-normal text-zinc-500">{t('live.processes', { count: snapshot.processes.answered })}</span>
            </h2>
            {snapshot.processes.complete ? null : (
              <p role="status" className="text-sm text-amber-700 dark:text-amber-400">
                {t('live.processesIncomplete')}
              </p>
            )}
            <LiveStreams streams={snapshot.streams} />
          </Card>
        </>
      )}
    </>
  );
}
