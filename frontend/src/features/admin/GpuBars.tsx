import { useFormat, useT } from '../../i18n';
import { noticeText } from '../../i18n/notices';
import type { GpuReport } from './api';

/** Memory (and utilisation) per GPU, with the engine that holds it. */
export function GpuBars({ report, only }: { report: GpuReport | null; only?: number[] }) {
  const t = useT();
  const format = useFormat();
  if (!report) return null;
  if (!report.available) {
    const reason = noticeText(t, report.reason_code, report.reason_params, report.reason ?? '');
    return <p className="text-xs text-zinc-500">{t('gpu.none', { reason })}</p>;
  }
  const gpus = only ? report.gpus.filter((gpu) => only.includes(gpu.index)) : report.gpus;
  return (
    <ul className="flex flex-col gap-2">
      {gpus.map((gpu) => {
        const share = gpu.memory_total_mib ? gpu.memory_used_mib / gpu.memory_total_mib : 0;
        return (
          <li key={gpu.index} className="flex flex-col gap-1 text-xs">
            <div className="flex justify-between gap-2">
              <span className="truncate">
                GPU {gpu.index} · {gpu.name}
                {gpu.engine ? ` · ${gpu.engine}` : ''}
              </span>
              <span className="tabular-nums text-zinc-500">
                {t('gpu.memory', {
                  used: format.number(gpu.memory_used_mib / 1024, 1),
                  total: format.number(gpu.memory_total_mib / 1024, 1),
                })}
                {gpu.utilization_pct !== null ? ` · ${t('gpu.util', { pct: gpu.utilization_pct })}` : ''}
              </span>
            </div>
            <div
              role="meter"
              aria-label={t('gpu.memoryOf', { index: gpu.index })}
              aria-valuemin={0}
              aria-valuemax={gpu.memory_total_mib}
              aria-valuenow={gpu.memory_used_mib}
              className="h-2.5 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-700"
            >
              <div
                className={`h-full rounded-full ${share > 0.9 ? 'bg-red-500' : share > 0.7 ? 'bg-amber-500' : 'bg-emerald-500'}`}
                style={{ width: `${Math.round(share * 100)}%` }}
              />
            </div>
          </li>
        );
      })}
    </ul>
  );
}
