import { DownloadLink } from '../components/ui/DownloadLink';
import { useState } from 'react';
import { Card, ErrorNotice, Spinner } from '../components/ui/Feedback';
import { AppearanceForm } from '../features/settings/AppearanceForm';
import { DefaultsForm } from '../features/settings/DefaultsForm';
import { KeysPanel } from '../features/settings/KeysPanel';
import { PasswordForm } from '../features/settings/PasswordForm';
import { SessionsPanel } from '../features/settings/SessionsPanel';
import { csvUrl, type UsageFilters } from '../features/usage/api';
import { QuotaPanel } from '../features/usage/QuotaPanel';
import { UsageCharts } from '../features/usage/UsageCharts';
import { UsageFiltersBar } from '../features/usage/UsageFiltersBar';
import { UsageReportView } from '../features/usage/UsageReportView';
import { useUsage } from '../features/usage/useUsage';
import { useT } from '../i18n';
import { Layout } from './Layout';

export function SettingsPage() {
  const t = useT();
  return (
    <Layout>
      <div className="flex-1 overflow-y-auto">
        <div className="mx-auto flex max-w-4xl flex-col gap-4 p-4 sm:p-6">
          <h1 className="text-xl font-semibold">{t('settings.title')}</h1>
          <AppearanceForm />
          <DefaultsForm />
          <KeysPanel />
          <MyUsage />
          <PasswordForm />
          <SessionsPanel />
        </div>
      </div>
    </Layout>
  );
}

function MyUsage() {
  const t = useT();
  const [filters, setFilters] = useState<UsageFilters>({ group_by: 'day' });
  const usage = useUsage('me', filters);
  const { group_by: _group, ...rowFilters } = filters;
  return (
    <Card className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2" id="my-usage">
        <h2 className="flex-1 font-semibold">{t('settings.myUsage')}</h2>
        <DownloadLink href={csvUrl(rowFilters, 'me')}>{t('usage.csv')}</DownloadLink>
      </div>
      <QuotaPanel />
      <UsageFiltersBar filters={filters} onChange={setFilters} />
      <UsageCharts scope="me" filters={filters} />
      {usage.error ? <ErrorNotice error={usage.error} /> : null}
      {usage.loading && !usage.report ? <Spinner label={t('common.loading')} /> : null}
      {usage.report ? <UsageReportView report={usage.report} groupLabel={t(`usage.group.${filters.group_by}`)} bars={filters.group_by === 'user' || filters.group_by === 'model'} /> : null}
    </Card>
  );
}
