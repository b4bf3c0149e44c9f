// RESULTS.md: a hand-written head, then one generated section per mode, each between
// `<!-- bench:<mode>:start -->` and `<!-- bench:<mode>:end -->`. Writing a mode replaces its
// section and keeps the others, always in the order below.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const ORDER = ['full', 'quick', 'micro'];
const marks = (mode) => [`<!-- bench:${mode}:start -->`, `<!-- bench:${mode}:end -->`];

export function writeSection(file, mode, body) {
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Tessera load benchmark\n\nRun `cd bench && npm ci && npm run bench`.\n';
  const blocks = {};
  for (const m of new Set([...ORDER, mode])) {
    const [start, end] = marks(m);
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i !== -1 && j > i) {
      blocks[m] = text.slice(i, j + end.length);
      text = text.slice(0, i) + text.slice(j + end.length);
    }
  }
  const [start, end] = marks(mode);
  blocks[mode] = `${start}\n${body.trim()}\n${end}`;
  const order = [...ORDER, ...Object.keys(blocks).filter((m) => !ORDER.includes(m))];
  text = `${text.replace(/\n{3,}/g, '\n\n').trimEnd()}\n\n${order.filter((m) => blocks[m]).map((m) => blocks[m]).join('\n\n')}\n`;
  writeFileSync(file, text);
}
