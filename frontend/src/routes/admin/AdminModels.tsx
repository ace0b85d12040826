import { useCallback, useEffect, useState } from 'react';
import { Badge, Card, ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { listBenchmarks, listProfiles, type Benchmark, type EngineStatus, type ProfilePolicy } from '../../features/admin/api';
import { GpuBars } from '../../features/admin/GpuBars';
import { ProfileCard } from '../../features/admin/ProfileCard';
import { useLive } from '../../features/admin/useLive';
import { useT } from '../../i18n';

export function AdminModels() {
  const t = useT();
  const live = useLive();
  const [polled, setPolled] = useState<EngineStatus[] | null>(null);
  // Policies come from the profiles file: the plain list carries them, the live feed does not.
  const [policies, setPolicies] = useState<Record<string, ProfilePolicy>>({});
  const [benchmarks, setBenchmarks] = useState<Benchmark[]>([]);
  const [error, setError] = useState<unknown>(null);

  // The live feed normally carries the engines; the plain list answers at once and is the
  // fallback while the feed is reconnecting.
  const refresh = useCallback(
    () =>
      listProfiles().then((profiles) => {
        setPolled(profiles.data);
        setPolicies(profiles.policies);
        setError(null);
      }, setError),
    [],
  );
  useEffect(() => {
    void refresh();
    void listBenchmarks().then((b) => setBenchmarks(b.data), () => undefined);
  }, [refresh]);
  useEffect(() => {
    if (live.connected) return;
    const timer = window.setInterval(() => void refresh(), 2000);
    return () => window.clearInterval(timer);
  }, [live.connected, refresh]);

  const engines = live.connected && live.snapshot ? live.snapshot.engines : polled;
  const latest = (name: string) => benchmarks.find((b) => b.profile === name);

  return (
    <>
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="flex-1 text-xl font-semibold">{t('admin.models')}</h1>
        <Badge tone={live.connected ? 'green' : 'gray'}>{live.connected ? t('live.connected') : t('live.disconnected')}</Badge>
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => void refresh()} /> : null}
      {live.snapshot?.gpus ? (
        <Card className="flex flex-col gap-2">
          <h2 className="text-sm font-semibold">{t('gpu.title')}</h2>
          <GpuBars report={live.snapshot.gpus} />
        </Card>
      ) : null}
      {engines === null ? (
        <Spinner label={t('common.loading')} />
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          {engines.map((engine) => (
            <ProfileCard
              key={engine.name}
              engine={engine}
              gpus={live.snapshot?.gpus ?? null}
              benchmark={latest(engine.name)}
              policy={policies[engine.name]}
              onChanged={() => void refresh()}
            />
          ))}
        </div>
      )}
    </>
  );
}
