// Summarises a V8 .cpuprofile: self time and inclusive time per function, top N.
//   node bench/lib/cpuprofile.mjs <file.cpuprofile> [N] [filter]
import { readFileSync } from 'node:fs';

const [file, n = '30', filter = ''] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const selfCount = new Map();
for (const id of profile.samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);
// Percentages of the busy samples: a server idles while the other rows of a round are loaded.
const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
const total = profile.samples.filter((id) => !idle.has(id)).length;
const key = (node) => {
  const f = node.callFrame;
  const url = f.url.replace(/^.*\/(node_modules\/)?/, '');
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
};
const self = new Map();
const inclusive = new Map();
for (const [id, count] of selfCount) {
  if (idle.has(id)) continue;
  const node = byId.get(id);
  self.set(key(node), (self.get(key(node)) ?? 0) + count);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(byId.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + count);
  }
}
const pct = (c) => ((100 * c) / total).toFixed(1).padStart(5);
console.log(`busy samples: ${total} of ${profile.samples.length}`);
console.log('--- self');
for (const [k, c] of [...self]
  .filter(([k]) => k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(n)))
  console.log(pct(c), k);
console.log('--- inclusive');
for (const [k, c] of [...inclusive]
  .filter(([k]) => k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(n)))
  console.log(pct(c), k);
