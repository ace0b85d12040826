/**
 * The engine's argv as one line a person can read and paste into a POSIX shell: words with
 * anything but safe characters are single-quoted. Display only; gpuchat never runs a shell.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]*$/;
const PORT = '<port>'; // the placeholder for the port chosen at start, shown as it is

export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (SAFE.test(word.split(PORT).join(''))) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** `vllm.extra_args[2]` -> its top-level field, `vllm`: where an error belongs in the document. */
export function topField(path: string | null): string | null {
  if (!path) return null;
  const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path);
  return match ? match[0] : null;
}
