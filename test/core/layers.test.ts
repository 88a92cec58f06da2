/**
 * The layers of src/ (docs/architecture.md): each folder imports only from the folders below it,
 * adapters import the core but never each other. A change that reaches upwards fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

/** Folder of src/ -> the folders of src/ it may import from. */
const LAYERS: Record<string, readonly string[]> = {
  base: [],
  metrics: ['base'],
  propagation: ['base'],
  session: ['base', 'metrics', 'propagation'],
  policy: ['base', 'session'],
  propagator: ['base', 'propagation', 'session'],
  carriers: ['base', 'propagation', 'session'],
  hop: ['base', 'metrics', 'policy', 'session', 'propagator'],
  messaging: ['base'],
  http: ['base', 'propagation', 'session', 'policy', 'carriers', 'hop'],
  sdk: ['base', 'metrics', 'propagation', 'session', 'policy', 'propagator', 'hop', 'http'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** The repository-relative files a module imports (relative specifiers only). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    found.push(relative(ROOT, resolve(dirname(file), match[1] as string)));
  }
  return found;
}

describe('layers', () => {
  it('every folder of src/ is a known layer, and src/ holds at most three files of its own', () => {
    const entries = readdirSync(join(ROOT, 'src'), { withFileTypes: true });
    expect(
      entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    ).toEqual(Object.keys(LAYERS).sort());
    expect(entries.filter((e) => e.isFile()).length).toBeLessThanOrEqual(3);
  });

  it('each layer imports only from the layers below it', () => {
    const violations: string[] = [];
    for (const [layer, allowed] of Object.entries(LAYERS)) {
      for (const file of files(join(ROOT, 'src', layer))) {
        for (const target of imports(file)) {
          const [top, to] = target.split('/');
          if (top !== 'src' || to === layer) continue;
          if (to === undefined || !allowed.includes(to)) violations.push(`${relative(ROOT, file)} -> ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('adapters import the core and never each other', () => {
    const violations: string[] = [];
    for (const file of files(join(ROOT, 'adapters'))) {
      const own = relative(ROOT, file).split('/')[1];
      for (const target of imports(file)) {
        const [top, name] = target.split('/');
        if (top === 'src' || (top === 'adapters' && name === own)) continue;
        violations.push(`${relative(ROOT, file)} -> ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
