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
import { summarize, tableRows, timeRange, type ChartData, type Metric } from './chartData';

const HEIGHT = 220;

function subscribeTheme(callback: () => void) {
  const observer = new MutationObserver(callback);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
const isDark = () => document.documentElement.classList.contains('dark');

/** Formats a bucket's start in UTC, in the UI's language: `full` for the legend and the
 * table, `tick` (shorter, no year) for the axis. */
export function useTimeFormat(bucket: Bucket) {
  const language = useLanguage((state) => state.language);
  return useMemo(() => {
    const hour: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    const full = new Intl.DateTimeFormat(language, {
      timeZone: 'UTC',
      ...(bucket === 'hour' ? { month: 'short', day: 'numeric', ...hour } : { year: 'numeric', month: 'short', day: 'numeric' }),
    });
    const tick = new Intl.DateTimeFormat(language, {
      timeZone: 'UTC',
      ...(bucket === 'hour' ? { month: 'numeric', day: 'numeric', ...hour } : { month: 'short', day: 'numeric' }),
    });
    return {
      full: (seconds: number) => full.format(new Date(seconds * 1000)),
      tick: (seconds: number) => tick.format(new Date(seconds * 1000)),
    };
  }, [bucket, language]);
}

/** Time ticks fall on whole buckets (a day chart never labels noon). */
const HOUR = 3600;
const DAY = 86400;
const TIME_INCREMENTS = {
  hour: [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY],
  day: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 364 * DAY],
};

/** Counts get whole-number ticks; milliseconds may have any. */
const COUNT_INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

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
  const { full: formatTime, tick: formatTick } = useTimeFormat(bucket);
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
        x: { time: true, range: (_, min, max) => timeRange(data.times, step, min, max) },
        y: { range: (_, __, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          label: t('usage.chart.timeAxis'),
          values: (_, splits) => splits.map((split) => formatTick(split)),
          space: bucket === 'hour' ? 100 : 70,
          incrs: TIME_INCREMENTS[bucket],
        },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          label: unit,
          size: 64,
          incrs: metric === 'ttft' ? undefined : COUNT_INCREMENTS,
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
  }, [data, dark, format, formatTime, formatTick, step, bucket, unit, metric, t]);

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
