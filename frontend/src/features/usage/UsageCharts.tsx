import { useMemo, useState } from 'react';
import { ApiError } from '../../api/errors';
import { Select } from '../../components/ui/Field';
import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { useT, type MessageKey } from '../../i18n';
import type { Bucket, Scope, UsageFilters } from './api';
import { chartData, METRICS, type Metric } from './chartData';
import { TimeChart } from './TimeChart';
import { useSeries } from './useUsage';

const TITLE: Record<Metric, MessageKey> = {
  requests: 'usage.chart.requests',
  tokens: 'usage.chart.tokens',
  errors: 'usage.chart.errors',
  ttft: 'usage.chart.ttft',
};
const UNIT: Record<Metric, MessageKey> = {
  requests: 'usage.chart.unitRequests',
  tokens: 'usage.chart.unitTokens',
  errors: 'usage.chart.unitErrors',
  ttft: 'usage.chart.unitMs',
};

/** Requests, tokens (in / out), errors and TTFT p95 over time, a line per model. */
export function UsageCharts({ scope, filters }: { scope: Scope; filters: UsageFilters }) {
  const t = useT();
  const [bucket, setBucket] = useState<Bucket>('day');
  const series = useSeries(scope, filters, bucket);
  const names = useMemo(() => ({ input: t('usage.chart.in'), output: t('usage.chart.out') }), [t]);
  const charts = useMemo(
    () => (series.data ? METRICS.map((metric) => ({ metric, data: chartData(series.data!, metric, names) })) : []),
    [series.data, names],
  );
  const tooLong = series.error instanceof ApiError && series.error.param === 'bucket';
  return (
    <section className="flex flex-col gap-3" aria-label={t('usage.chart.title')}>
      <div className="flex flex-wrap items-end gap-3">
        <h3 className="flex-1 text-sm font-semibold">{t('usage.chart.title')}</h3>
        <div className="w-40">
          <Select label={t('usage.chart.bucket')} value={bucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
            <option value="hour">{t('usage.chart.byHour')}</option>
            <option value="day">{t('usage.chart.byDay')}</option>
          </Select>
        </div>
      </div>
      {tooLong ? <p role="alert" className="text-sm text-amber-700 dark:text-amber-400">{t('usage.chart.tooLong')}</p> : null}
      {series.error && !tooLong ? <ErrorNotice error={series.error} /> : null}
      {series.loading && !series.data ? <Spinner label={t('common.loading')} /> : null}
      {series.data && series.data.series.length === 0 ? <p className="text-sm text-zinc-500">{t('usage.empty')}</p> : null}
      {series.data && series.data.series.length > 0 ? (
        <div className="grid gap-6 lg:grid-cols-2">
          {charts.map(({ metric, data }) => (
            <TimeChart key={metric} metric={metric} title={t(TITLE[metric])} unit={t(UNIT[metric])} bucket={series.data!.bucket} data={data} />
          ))}
        </div>
      ) : null}
    </section>
  );
}
