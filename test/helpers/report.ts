// Figures of the reliability runs (sessions, messages, fuzz cases, faults) for docs/guarantees.md:
// printed, and appended as JSON lines to .cache/reliability-figures.jsonl.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = path.join(fileURLToPath(new URL('../..', import.meta.url)), '.cache', 'reliability-figures.jsonl');

/** Records the figures of one test under `name`. */
export function report(name: string, figures: Record<string, unknown>): void {
  const line = { name, at: new Date().toISOString(), node: process.version, ...figures };
  console.log(`[figures] ${name}: ${JSON.stringify(figures)}`);
  try {
    fs.mkdirSync(path.dirname(FILE), { recursive: true });
    fs.appendFileSync(FILE, `${JSON.stringify(line)}\n`);
  } catch {
    // The figures are a by-product; a read-only checkout must not fail the run.
  }
}
