import { useEffect, useRef, useState } from 'react';
import { ErrorNotice } from '../../components/ui/Feedback';
import { useT } from '../../i18n';
import { useSseJson } from './useSseJson';

const MAX_LINES = 2000;

/** An engine's log: the last lines, then new ones as they are written. */
export function LogViewer({ profile }: { profile: string }) {
  return <EngineLog key={profile} profile={profile} />;
}

function EngineLog({ profile }: { profile: string }) {
  const t = useT();
  const [lines, setLines] = useState<string[]>([]);
  const box = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  const state = useSseJson<{ line: string }>(
    `/api/admin/engines/${encodeURIComponent(profile)}/logs?follow=true&tail=300`,
    (frame) => setLines((old) => [...old.slice(-(MAX_LINES - 1)), frame.line]),
  );
  useEffect(() => {
    const element = box.current;
    if (element && follow.current) element.scrollTop = element.scrollHeight;
  }, [lines]);
  return (
    <>
      {state.error ? <ErrorNotice error={state.error} /> : null}
      <pre
        ref={box}
        tabIndex={0}
        aria-label={t('models.logsOf', { name: profile })}
        onScroll={(event) => {
          const el = event.currentTarget;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
        className="h-64 overflow-auto rounded-lg bg-zinc-950 p-3 font-mono text-xs leading-relaxed text-zinc-200"
      >
        {lines.length ? lines.join('\n') : t('models.logsEmpty')}
      </pre>
    </>
  );
}
