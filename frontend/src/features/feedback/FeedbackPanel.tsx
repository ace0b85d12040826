import { ThumbsDown, ThumbsUp } from 'lucide-react';
import { DataTable } from '../../components/ui/DataTable';
import { ErrorNotice, Spinner } from '../../components/ui/Feedback';
import { Select, TextInput } from '../../components/ui/Field';
import { Pager } from '../../components/ui/Pager';
import { useFormat, useT } from '../../i18n';
import { FilteredPage } from '../admin/FilteredPage';
import { useFilteredPage } from '../admin/useFilteredPage';
import { feedbackCsvUrl, listFeedback, type FeedbackFilters, type FeedbackPage } from './api';

/** The admin's view of feedback on answers: filters, one page at a time, and the CSV. */
export function FeedbackPanel() {
  const t = useT();
  const list = useFilteredPage<FeedbackFilters, FeedbackPage>({}, listFeedback);
  const { filters, data } = list;
  const set = (changes: Partial<FeedbackFilters>) => list.setFilters({ ...filters, ...changes });

  return (
    <FilteredPage
      title={t('admin.feedback')}
      csv={{ href: feedbackCsvUrl(filters), label: t('usage.csv') }}
      filters={
        <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
          <Select label={t('feedbackAdmin.rating')} value={filters.rating ?? ''} onChange={(e) => set({ rating: e.target.value as FeedbackFilters['rating'] })}>
            <option value="">{t('feedbackAdmin.all')}</option>
            <option value="up">{t('feedbackAdmin.up')}</option>
            <option value="down">{t('feedbackAdmin.down')}</option>
          </Select>
          <TextInput label={t('feedbackAdmin.model')} value={filters.model ?? ''} onChange={(e) => set({ model: e.target.value })} />
          <TextInput label={t('feedbackAdmin.profile')} value={filters.profile ?? ''} onChange={(e) => set({ profile: e.target.value })} />
          <TextInput label={t('usage.from')} type="date" value={filters.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
          <TextInput label={t('usage.to')} type="date" value={filters.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
          <Select
            label={t('feedbackAdmin.hasComment')}
            value={filters.has_comment ?? ''}
            onChange={(e) => set({ has_comment: e.target.value as FeedbackFilters['has_comment'] })}
          >
            <option value="">{t('feedbackAdmin.all')}</option>
            <option value="true">{t('feedbackAdmin.withComment')}</option>
            <option value="false">{t('feedbackAdmin.noComment')}</option>
          </Select>
        </div>
      }
    >
      {list.error ? <ErrorNotice error={list.error} /> : null}
      {data === null && !list.error ? <Spinner label={t('common.loading')} /> : null}
      {data ? (
        <div>
          {data.data.length === 0 ? (
            <p className="py-6 text-center text-sm text-zinc-500">{t('feedbackAdmin.empty')}</p>
          ) : (
            <FeedbackTable page={data} />
          )}
          <Pager summary={t('feedbackAdmin.total', { count: data.total, up: data.up, down: data.total - data.up })} total={data.total} {...list.pager} />
        </div>
      ) : null}
    </FilteredPage>
  );
}

function FeedbackTable({ page }: { page: FeedbackPage }) {
  const t = useT();
  const format = useFormat();
  const clipped = 'line-clamp-3 max-w-72 min-w-40 whitespace-pre-wrap break-words';
  return (
    <DataTable
      label={t('feedbackAdmin.table')}
      columns={[
        { label: t('feedbackAdmin.when') },
        { label: <span className="whitespace-nowrap">{t('feedbackAdmin.rating')}</span> },
        { label: t('feedbackAdmin.comment') },
        { label: t('feedbackAdmin.question') },
        { label: t('feedbackAdmin.answer') },
        { label: t('feedbackAdmin.model') },
        { label: t('feedbackAdmin.user') },
      ]}
    >
      {page.data.map((row) => (
        <tr key={row.id} data-rating={row.rating}>
          <td className="whitespace-nowrap">{format.dateTime(row.updated)}</td>
          <td>
            {row.rating === 'up' ? (
              <ThumbsUp role="img" aria-label={t('feedbackAdmin.up')} className="h-4 w-4 text-emerald-600" />
            ) : (
              <ThumbsDown role="img" aria-label={t('feedbackAdmin.down')} className="h-4 w-4 text-red-600" />
            )}
          </td>
          <td>
            <p className={clipped} title={row.comment}>
              {row.comment}
            </p>
          </td>
          <td>
            <p className={clipped} title={row.question ?? ''}>
              {row.question}
            </p>
          </td>
          <td>
            <p className={clipped} title={row.answer}>
              {row.answer}
            </p>
          </td>
          <td className="whitespace-nowrap">
            {row.model}
            {row.profile && row.profile !== row.model ? <span className="block text-xs text-zinc-500">{row.profile}</span> : null}
          </td>
          <td className="max-w-48 truncate">{row.user_email}</td>
        </tr>
      ))}
    </DataTable>
  );
}
