import { Square } from 'lucide-react';
import { useState } from 'react';
import { IconButton } from '../../components/ui/Button';
import { ErrorNotice } from '../../components/ui/Feedback';
import { useFormat, useT } from '../../i18n';
import { stopStream, type LiveStream } from './api';
import { DataTable } from '../../components/ui/DataTable';

/** Every request in flight, with an admin's stop button. */
export function LiveStreams({ streams }: { streams: LiveStream[] }) {
  const t = useT();
  const format = useFormat();
  const [error, setError] = useState<unknown>(null);
  if (streams.length === 0) return <p className="text-sm text-zinc-500">{t('live.noStreams')}</p>;
  return (
    <div className="flex flex-col gap-2">
      {error ? <ErrorNotice error={error} /> : null}
      <DataTable
        label={t('live.streams')}
        columns={[
          { label: t('live.user') },
          { label: t('live.model') },
          { label: t('live.client') },
          { label: t('live.elapsed'), numeric: true },
          { label: t('live.ttft'), numeric: true },
          { label: t('live.tokens'), numeric: true },
          { label: t('live.speed'), numeric: true },
          { label: t('live.process') },
        ]}
        actions
      >
        {streams.map((stream) => (
          <tr key={stream.request_id} data-testid="live-stream">
            <td className="max-w-48 truncate">{stream.user ?? '—'}</td>
            <td>
              {stream.model}
              {stream.profile !== stream.model ? <span className="text-zinc-500"> → {stream.profile}</span> : null}
            </td>
            <td>{stream.client}</td>
            <td className="text-right tabular-nums">{format.number(stream.elapsed_s, 1)} s</td>
            <td className="text-right tabular-nums">{stream.ttft_ms !== null ? `${format.number(stream.ttft_ms)} ms` : '—'}</td>
            <td className="text-right tabular-nums">{format.number(stream.tokens)}</td>
            <td className="text-right tabular-nums">{stream.tokens_per_s !== null ? `${format.number(stream.tokens_per_s, 1)}/s` : '—'}</td>
            <td className="font-mono text-xs text-zinc-500">{stream.process}</td>
            <td className="text-right">
              <IconButton
                label={t('live.stop', { user: stream.user ?? '' })}
                onClick={() => void stopStream(stream.request_id).catch(setError)}
              >
                <Square aria-hidden className="h-3.5 w-3.5 fill-current" />
              </IconButton>
            </td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}
