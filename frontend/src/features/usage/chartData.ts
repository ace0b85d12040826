/**
 * From the gateway's usage series (columns per model, buckets in UTC) to what a chart
 * draws: x as Unix seconds, one line per model (tokens: a solid input and a dashed output
 * line per model, in the model's colour), plus the per-line summary and the table rows
 * that stand in for the chart for screen readers. Pure functions, tested in Vitest.
 */
import type { ModelSeries, UsageSeries } from './api';

export type Metric = 'requests' | 'tokens' | 'errors' | 'ttft';
export const METRICS: Metric[] = ['requests', 'tokens', 'errors', 'ttft'];

/** Readable on white and on zinc-900 alike (Tailwind 500/600 shades). */
export const PALETTE = ['#6366f1', '#10b981', '#f59e0b', '#ef4444', '#0ea5e9', '#a855f7', '#84cc16', '#71717a'];

export interface Line {
  label: string;
  model: string;
  color: string;
  dashed: boolean;
  values: (number | null)[];
}

export interface ChartData {
  /** Each bucket's start, Unix seconds (UTC). */
  times: number[];
  lines: Line[];
}

/** `2024-03-05T10:00Z` (an hour) or `2024-03-05` (a day), always UTC, to Unix seconds. */
export function bucketTime(label: string): number {
  const iso = label.length === 10 ? `${label}T00:00:00Z` : label.replace(/Z$/, ':00Z');
  return Date.parse(iso) / 1000;
}

/**
 * The time axis's range: what uPlot asks for (`min`..`max`, the data's span or a zoom),
 * except around a single bucket, which gets one bucket either side. (uPlot itself widens a
 * single point to 86400 / 1e-3 "seconds": a thousand days, ticked yearly, each tick a
 * "Dec 1".)
 */
export function timeRange(times: number[], step: number, min: number, max: number): [number, number] {
  const only = times.length === 1 ? times[0] : undefined;
  if (only !== undefined) return [only - step, only + step];
  return min === max ? [min - step, max + step] : [min, max];
}

export function chartData(series: UsageSeries, metric: Metric, names: { input: string; output: string }): ChartData {
  const times = series.buckets.map(bucketTime);
  const lines = series.series.flatMap((model, index): Line[] => {
    const color = PALETTE[index % PALETTE.length] as string;
    const line = (label: string, values: (number | null)[], dashed = false): Line => ({ label, model: model.model, color, dashed, values });
    if (metric === 'tokens') {
      return [line(`${model.model} · ${names.input}`, model.input_tokens), line(`${model.model} · ${names.output}`, model.output_tokens, true)];
    }
    return [line(model.model, pick(model, metric))];
  });
  return { times, lines };
}

function pick(model: ModelSeries, metric: Exclude<Metric, 'tokens'>): (number | null)[] {
  if (metric === 'requests') return model.requests;
  if (metric === 'errors') return model.errors;
  return model.ttft_p95_ms;
}

export interface LineSummary {
  label: string;
  /** The sum over the range (null for TTFT: a sum of percentiles means nothing). */
  total: number | null;
  peak: number | null;
  /** When the peak was, Unix seconds; null when the line has no value. */
  peakAt: number | null;
}

export function summarize(data: ChartData, metric: Metric): LineSummary[] {
  return data.lines.map((line) => {
    let peak: number | null = null;
    let peakAt: number | null = null;
    let total = 0;
    line.values.forEach((value, index) => {
      if (value === null) return;
      total += value;
      if (peak === null || value > peak) {
        peak = value;
        peakAt = data.times[index] ?? null;
      }
    });
    return { label: line.label, total: metric === 'ttft' ? null : total, peak, peakAt };
  });
}

/** The buckets that hold something, as table rows (time, then one value per line). */
export function tableRows(data: ChartData): { time: number; values: (number | null)[] }[] {
  return data.times
    .map((time, index) => ({ time, values: data.lines.map((line) => line.values[index] ?? null) }))
    .filter((row) => row.values.some((value) => value !== null && value !== 0));
}
