/** A small horizontal bar chart in plain markup (no chart library). */
export interface Bar {
  label: string;
  value: number;
  display: string;
}

export function BarChart({ title, bars }: { title: string; bars: Bar[] }) {
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  return (
    <figure className="flex flex-col gap-1.5">
      <figcaption className="text-sm font-medium text-zinc-700 dark:text-zinc-300">{title}</figcaption>
      <ul className="flex flex-col gap-1">
        {bars.map((bar) => (
          <li key={bar.label} className="grid grid-cols-[minmax(5rem,10rem)_1fr_auto] items-center gap-2 text-xs">
            <span className="truncate text-zinc-600 dark:text-zinc-400" title={bar.label}>
              {bar.label}
            </span>
            <span className="h-3 rounded bg-zinc-100 dark:bg-zinc-800">
              <span className="block h-3 rounded bg-indigo-500" style={{ width: `${(bar.value / max) * 100}%` }} />
            </span>
            <span className="tabular-nums text-zinc-700 dark:text-zinc-300">{bar.display}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}
