import { Card } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import type { UsageReport } from './api';
import { BarChart } from './BarChart';
import { DataTable } from '../../components/ui/DataTable';

/** Totals, bars of requests and tokens per user or model (time groups are drawn as lines
 * by `UsageCharts`), and the table behind them. */
export function UsageReportView({ report, groupLabel, bars = true }: { report: UsageReport; groupLabel: string; bars?: boolean }) {
  const t = useT();
  const format = useFormat();
  const { totals, groups } = report;
  const ms = (value: number | null) => (value === null ? '—' : `${format.number(value)} ms`);
  const stats = [
    { label: t('usage.requests'), value: format.number(totals.requests) },
    { label: t('usage.inputTokens'), value: format.number(totals.input_tokens) },
    { label: t('usage.outputTokens'), value: format.number(totals.output_tokens) },
    { label: t('usage.errors'), value: format.number(totals.errors) },
    { label: t('usage.ttft'), value: `${ms(totals.ttft_ms.p50)} / ${ms(totals.ttft_ms.p95)}` },
    { label: t('usage.latency'), value: `${ms(totals.latency_ms.p50)} / ${ms(totals.latency_ms.p95)}` },
  ];
  return (
    <div className="flex flex-col gap-4">
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        {stats.map((stat) => (
          <Card key={stat.label} className="!p-3">
            <dt className="text-xs text-zinc-500">{stat.label}</dt>
            <dd className="mt-1 text-lg font-semibold tabular-nums" data-testid={`usage-${stat.label}`}>
              {stat.value}
            </dd>
          </Card>
        ))}
      </dl>
      {groups.length > 0 && bars ? (
        <Card className="grid gap-6 md:grid-cols-2">
          <BarChart
            title={t('usage.requestsBy', { group: groupLabel })}
            bars={groups.map((g) => ({ label: g.key, value: g.requests, display: format.number(g.requests) }))}
          />
          <BarChart
            title={t('usage.tokensBy', { group: groupLabel })}
            bars={groups.map((g) => ({
              label: g.key,
              value: g.input_tokens + g.output_tokens,
              display: format.number(g.input_tokens + g.output_tokens),
            }))}
          />
        </Card>
      ) : null}
      {groups.length === 0 ? <p className="text-sm text-zinc-500">{t('usage.empty')}</p> : null}
      {groups.length > 0 ? (
        <DataTable
          label={t('usage.table')}
          columns={[
            { label: groupLabel },
            { label: t('usage.requests'), numeric: true },
            { label: t('usage.inputTokens'), numeric: true },
            { label: t('usage.outputTokens'), numeric: true },
            { label: t('usage.errors'), numeric: true },
            { label: t('usage.ttftShort'), numeric: true },
            { label: t('usage.latencyShort'), numeric: true },
          ]}
        >
          {groups.map((g) => (
            <tr key={g.key}>
              <td>{g.key}</td>
              <td className="text-right tabular-nums">{format.number(g.requests)}</td>
              <td className="text-right tabular-nums">{format.number(g.input_tokens)}</td>
              <td className="text-right tabular-nums">{format.number(g.output_tokens)}</td>
              <td className="text-right tabular-nums">{format.number(g.errors)}</td>
              <td className="text-right tabular-nums">{ms(g.ttft_ms.p50)}</td>
              <td className="text-right tabular-nums">{ms(g.latency_ms.p50)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </div>
  );
}
