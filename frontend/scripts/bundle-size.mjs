// Prints every built asset with its gzipped size, and the initial JS (the entry script and
// what index.html preloads); fails when that is over the budget (issue 7: 250 KB gzipped).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 250;
const dist = new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = new Set(
  [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="\/([^"]+\.js)"/g)].map((m) => m[1]),
);
const kb = (bytes) => (bytes / 1024).toFixed(1).padStart(8);
let initialGzip = 0;
console.log('\n  asset'.padEnd(52) + 'size KB   gzip KB');
for (const name of readdirSync(join(dist, 'assets')).sort()) {
  const path = `assets/${name}`;
  const body = readFileSync(join(dist, path));
  const gz = gzipSync(body, { level: 9 }).length;
  if (initial.has(path)) initialGzip += gz;
  console.log(`  ${initial.has(path) ? '*' : ' '} ${path.padEnd(46)}${kb(body.length)}  ${kb(gz)}`);
}
console.log(`\n  initial JS (*): ${(initialGzip / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)\n`);
if (initial.size === 0) throw new Error('no entry script found in dist/index.html');
if (initialGzip > BUDGET_KB * 1024) {
  console.error(`initial JS is over the ${BUDGET_KB} KB budget`);
  process.exit(1);
}
