/**
 * One time-series chart drawn by uPlot (a small canvas chart library): UTC time axis, a
 * labelled value axis, a legend whose values follow the cursor (the tooltip), colours that
 * read in light and dark theme. For screen readers the canvas is hidden and a summary
 * plus a table (behind "Show as table") say the same.
 */
import { useEffect, useId, useMemo, useRef, useSyncExternalStore } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useFormat, useLanguage, useT } from '../../i18n';
import type { Bucket } from './api';
import { summarize, tableRows, type ChartData, type Metric } from './chartData';

const HEIGHT = 220;

function subscribeTheme(callback: () => void) {
  const observer = new MutationObserver(callback);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
const isDark = () => document.documentElement.classList.contains('dark');

/** Formats a bucket's start in UTC, in the UI's language. */
export function useTimeFormat(bucket: Bucket) {
  const language = useLanguage((state) => state.language);
  return useMemo(() => {
    const options: Intl.DateTimeFormatOptions =
      bucket === 'hour'
        ? { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' }
        : { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' };
    const format = new Intl.DateTimeFormat(language, options);
    return (seconds: number) => format.format(new Date(seconds * 1000));
  }, [bucket, language]);
}

interface Props {
  metric: Metric;
  title: string;
  /** The value axis's label, unit included. */
  unit: string;
  bucket: Bucket;
  data: ChartData;
}

export function TimeChart({ metric, title, unit, bucket, data }: Props) {
  const t = useT();
  const format = useFormat();
  const formatTime = useTimeFormat(bucket);
  const dark = useSyncExternalStore(subscribeTheme, isDark, () => false);
  const box = useRef<HTMLDivElement>(null);
  const summaryId = useId();
  const step = bucket === 'hour' ? 3600 : 86400;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const axis = dark ? '#a1a1aa' : '#52525b';
    const grid = dark ? '#3f3f46' : '#e4e4e7';
    const value = (_: uPlot, v: number | null) => (v === null || v === undefined ? '—' : format.number(v, 1));
    const options: uPlot.Options = {
      width: Math.max(280, element.clientWidth),
      height: HEIGHT,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
      scales: {
        x: { time: true, range: (_, min, max) => (min === max ? [min - step, max + step] : [min, max]) },
        y: { range: (_, __, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          label: t('usage.chart.timeAxis'),
          values: (_, splits) => splits.map((split) => formatTime(split)),
          space: bucket === 'hour' ? 110 : 90,
        },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          label: unit,
          size: 64,
          values: (_, splits) => splits.map((split) => format.number(split, 1)),
        },
      ],
      series: [
        { label: t('usage.chart.time'), value: (_, v: number | null) => (v === null ? '—' : formatTime(v)) },
        ...data.lines.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 2,
          dash: line.dashed ? [6, 4] : undefined,
          points: { show: true, size: 5, fill: line.color },
          spanGaps: false,
          value,
        })),
      ],
      legend: { live: true },
    };
    const chart = new uPlot(options, [data.times, ...data.lines.map((line) => line.values)] as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(280, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [data, dark, format, formatTime, step, bucket, unit, t]);

  const summary = summarize(data, metric)
    .map((line) =>
      line.peak === null
        ? t('usage.chart.summaryNone', { line: line.label })
        : t(line.total === null ? 'usage.chart.summaryPeak' : 'usage.chart.summary', {
            line: line.label,
            total: format.number(line.total ?? 0),
            peak: format.number(line.peak, 1),
            at: formatTime(line.peakAt ?? 0),
          }),
    )
    .join(' ');
  const rows = tableRows(data);
  return (
    <figure className="flex min-w-0 flex-col gap-2" data-testid={`usage-chart-${metric}`} aria-describedby={summaryId}>
      <figcaption className="text-sm font-medium text-zinc-700 dark:text-zinc-300">{title}</figcaption>
      <div ref={box} aria-hidden className="usage-chart w-full overflow-hidden text-zinc-700 dark:text-zinc-300" />
      <p id={summaryId} className="sr-only">
        {summary}
      </p>
      <details className="text-xs text-zinc-600 dark:text-zinc-400">
        <summary className="cursor-pointer select-none">{t('usage.chart.showTable')}</summary>
        <div className="mt-2 max-h-64 overflow-auto">
          <table className="data-table" aria-label={title}>
            <thead>
              <tr>
                <th className="text-left">{t('usage.chart.time')}</th>
                {data.lines.map((line) => (
                  <th key={line.label} className="text-right">
                    {line.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.time}>
                  <td>{formatTime(row.time)}</td>
                  {row.values.map((v, index) => (
                    <td key={index} className="text-right tabular-nums">
                      {v === null ? '—' : format.number(v, 1)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
