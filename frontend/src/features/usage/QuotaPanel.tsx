import { ErrorNotice } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import type { PeriodUsage } from './api';
import { useQuota } from './useUsage';

/** Today and this month (UTC): requests, tokens, the quota used and left, when it resets. */
export function QuotaPanel() {
  const t = useT();
  const format = useFormat();
  const quota = useQuota();
  if (quota.error) return <ErrorNotice error={quota.error} />;
  if (!quota.data) return null;
  const { limits } = quota.data;
  const limit = (value: number) => (value ? format.number(value) : t('usage.quota.none'));
  return (
    <div className="flex flex-col gap-3">
      <div className="grid gap-3 sm:grid-cols-2">
        <Period usage={quota.data.day} title={t('usage.quota.today')} />
        <Period usage={quota.data.month} title={t('usage.quota.month')} />
      </div>
      <p className="text-xs text-zinc-500">
        {t('usage.quota.limits', {
          rpm: limit(limits.requests_per_minute),
          tpm: limit(limits.tokens_per_minute),
          streams: limit(limits.concurrent_streams),
        })}
      </p>
    </div>
  );
}

function Period({ usage, title }: { usage: PeriodUsage; title: string }) {
  const t = useT();
  const format = useFormat();
  const share = usage.quota ? Math.min(1, usage.tokens / usage.quota) : 0;
  return (
    <div className="rounded-lg border border-zinc-200 p-3 dark:border-zinc-700" data-testid={`quota-${usage.period}`}>
      <h3 className="text-sm font-medium text-zinc-700 dark:text-zinc-300">{title}</h3>
      <dl className="mt-2 grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
        <dt className="text-zinc-500">{t('usage.requests')}</dt>
        <dd className="text-right tabular-nums">{format.number(usage.requests)}</dd>
        <dt className="text-zinc-500">{t('usage.quota.tokens')}</dt>
        <dd className="text-right tabular-nums">
          {format.number(usage.tokens)}
          <span className="block text-xs text-zinc-500">
            {t('usage.quota.inOut', { input: format.number(usage.input_tokens), output: format.number(usage.output_tokens) })}
          </span>
        </dd>
      </dl>
      {usage.quota ? (
        <div className="mt-2 flex flex-col gap-1">
          <div
            role="progressbar"
            aria-label={t('usage.quota.used', { used: format.number(usage.tokens), quota: format.number(usage.quota) })}
            aria-valuemin={0}
            aria-valuemax={usage.quota}
            aria-valuenow={Math.min(usage.tokens, usage.quota)}
            className="h-2 rounded bg-zinc-100 dark:bg-zinc-800"
          >
            <div className={`h-2 rounded ${share >= 1 ? 'bg-red-500' : share >= 0.8 ? 'bg-amber-500' : 'bg-indigo-500'}`} style={{ width: `${share * 100}%` }} />
          </div>
          <p className="text-xs text-zinc-600 dark:text-zinc-400">
            {t('usage.quota.used', { used: format.number(usage.tokens), quota: format.number(usage.quota) })} ·{' '}
            {t('usage.quota.left', { left: format.number(usage.remaining ?? 0) })}
          </p>
        </div>
      ) : (
        <p className="mt-2 text-xs text-zinc-600 dark:text-zinc-400">{t('usage.quota.unlimited')}</p>
      )}
      <p className="mt-1 text-xs text-zinc-500">{t('usage.quota.resets', { when: format.dateTime(usage.resets_at) })}</p>
    </div>
  );
}
