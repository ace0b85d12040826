import { render, screen } from '@testing-library/react';
import type { UsageSeries } from '../../src/features/usage/api';
import { bucketTime, chartData, PALETTE, summarize, tableRows, timeRange } from '../../src/features/usage/chartData';
import { QuotaPanel } from '../../src/features/usage/QuotaPanel';
import { useLanguage } from '../../src/i18n';
import { jsonResponse } from './helpers';

const hourly: UsageSeries = {
  bucket: 'hour',
  timezone: 'UTC',
  buckets: ['2024-03-05T09:00Z', '2024-03-05T10:00Z', '2024-03-05T11:00Z'],
  series: [
    { model: 'llama', requests: [0, 20, 1], input_tokens: [0, 60, 20], output_tokens: [0, 40, 7], errors: [0, 2, 0], ttft_p95_ms: [null, 190.5, 42] },
    { model: 'qwen', requests: [0, 0, 3], input_tokens: [0, 0, 9], output_tokens: [0, 0, 3], errors: [0, 0, 1], ttft_p95_ms: [null, null, 80] },
  ],
};
const names = { input: 'in', output: 'out' };

test('bucket labels are read as UTC, hours and days alike', () => {
  expect(bucketTime('2024-03-05T10:00Z')).toBe(Date.UTC(2024, 2, 5, 10) / 1000);
  expect(bucketTime('2024-03-05')).toBe(Date.UTC(2024, 2, 5) / 1000);
});

test('one day of data is drawn between the day before and the day after, each day once on the axis', () => {
  const day = 86400;
  const dec1 = Date.UTC(2026, 11, 1) / 1000;
  // uPlot asks for a single point's range as that point plus 86400 / 1e-3 s (1,000 days).
  expect(timeRange([dec1], day, dec1, dec1 + 86400 * 1000)).toEqual([dec1 - day, dec1 + day]);
  expect(timeRange([dec1, dec1 + day], day, dec1, dec1 + day)).toEqual([dec1, dec1 + day]);
  expect(timeRange([dec1, dec1 + day, dec1 + 2 * day], day, dec1 + day, dec1 + 2 * day)).toEqual([dec1 + day, dec1 + 2 * day]); // a zoom
  const [from, to] = timeRange([dec1], day, dec1, dec1 + 86400 * 1000);
  const ticks = Array.from({ length: (to - from) / day + 1 }, (_, i) => from + i * day);
  const label = new Intl.DateTimeFormat('en', { timeZone: 'UTC', month: 'short', day: 'numeric' });
  expect(ticks.map((tick) => label.format(new Date(tick * 1000)))).toEqual(['Nov 30', 'Dec 1', 'Dec 2']);
  const hour = 3600;
  expect(timeRange([dec1 + 9 * hour], hour, dec1 + 9 * hour, dec1 + 9 * hour + 86400 * 1000)).toEqual([dec1 + 8 * hour, dec1 + 10 * hour]);
});

test('a line per model, in the model’s colour, for requests, errors and TTFT', () => {
  const requests = chartData(hourly, 'requests', names);
  expect(requests.times).toEqual([9, 10, 11].map((h) => Date.UTC(2024, 2, 5, h) / 1000));
  expect(requests.lines.map((l) => [l.label, l.values, l.color])).toEqual([
    ['llama', [0, 20, 1], PALETTE[0]],
    ['qwen', [0, 0, 3], PALETTE[1]],
  ]);
  expect(chartData(hourly, 'errors', names).lines.map((l) => l.values)).toEqual([
    [0, 2, 0],
    [0, 0, 1],
  ]);
  // No TTFT in a bucket is a gap (null), not a zero.
  expect(chartData(hourly, 'ttft', names).lines[1]?.values).toEqual([null, null, 80]);
});

test('tokens: a solid input and a dashed output line per model, same colour', () => {
  const tokens = chartData(hourly, 'tokens', names);
  expect(tokens.lines.map((l) => [l.label, l.dashed, l.color, l.values])).toEqual([
    ['llama · in', false, PALETTE[0], [0, 60, 20]],
    ['llama · out', true, PALETTE[0], [0, 40, 7]],
    ['qwen · in', false, PALETTE[1], [0, 0, 9]],
    ['qwen · out', true, PALETTE[1], [0, 0, 3]],
  ]);
});

test('the summary gives totals and peaks; TTFT gets a peak and no total', () => {
  const at10 = Date.UTC(2024, 2, 5, 10) / 1000;
  expect(summarize(chartData(hourly, 'requests', names), 'requests')[0]).toEqual({ label: 'llama', total: 21, peak: 20, peakAt: at10 });
  expect(summarize(chartData(hourly, 'ttft', names), 'ttft')[0]).toEqual({ label: 'llama', total: null, peak: 190.5, peakAt: at10 });
  const empty = chartData({ ...hourly, series: [{ ...hourly.series[0]!, ttft_p95_ms: [null, null, null] }] }, 'ttft', names);
  expect(summarize(empty, 'ttft')[0]?.peak).toBeNull();
});

test('the table behind a chart lists only the buckets that hold something', () => {
  const rows = tableRows(chartData(hourly, 'requests', names));
  expect(rows.map((r) => r.values)).toEqual([
    [20, 0],
    [1, 3],
  ]);
});

test('the quota panel shows what is used, what is left and the limits, in Korean', async () => {
  useLanguage.setState({ language: 'ko' });
  const period = (p: 'day' | 'month', quota: number) => ({
    period: p,
    start: '2024-03-05T00:00:00Z',
    resets_at: '2024-03-06T00:00:00Z',
    requests: 3,
    input_tokens: 300,
    output_tokens: 60,
    tokens: 360,
    quota,
    remaining: quota ? Math.max(0, quota - 360) : null,
  });
  vi.stubGlobal(
    'fetch',
    vi.fn(async () =>
      jsonResponse({
        day: period('day', 1000),
        month: period('month', 0),
        limits: { requests_per_minute: 60, tokens_per_minute: 0, concurrent_streams: 2, tokens_per_day: 1000, tokens_per_month: 0 },
      }),
    ),
  );
  render(<QuotaPanel />);
  const bar = await screen.findByRole('progressbar');
  expect(bar.getAttribute('aria-valuenow')).toBe('360');
  expect(screen.getByText(/640 남음/)).toBeTruthy();
  expect(screen.getByText('토큰 한도 없음.')).toBeTruthy();
  expect(screen.getByText(/분당 요청 60 · 분당 토큰 제한 없음 · 동시 스트림 2/)).toBeTruthy();
  vi.unstubAllGlobals();
});
