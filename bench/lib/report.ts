/** What a scenario hands to the report: a readable table, the raw data, and the bar checks. */
export interface ScenarioResult {
  /** Section title. */
  title: string;
  /** How it was measured, one line each. */
  notes: string[];
  /** The table as printed. */
  table: { columns: string[]; rows: string[][] };
  /** Further tables of the same scenario (memory of the processes under test). */
  extraTables?: { title: string; columns: string[]; rows: string[][] }[];
  /** The bar this scenario is held to. */
  checks: Check[];
  /** Raw per-round numbers, for latest.json. */
  data: unknown;
}

/** One line of the bar. */
export interface Check {
  /** What is compared. */
  what: string;
  /** The target, as the issue states it. */
  target: string;
  /** The measured value. */
  measured: string;
  /** Whether the target was met. */
  pass: boolean;
}

/** A markdown table. */
export function markdownTable(columns: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const lines = [`| ${columns.map(escape).join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(escape).join(' | ')} |`);
  return lines.join('\n');
}

/** Machine and run facts for the report header. */
export interface RunInfo {
  date: string;
  node: string;
  nodeBinary: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  mode: 'full' | 'quick';
  pinned: boolean;
  durationSeconds?: number;
  scenarios: string[];
  /** 1-minute load average when the run started and ended: other work on the machine skews a run. */
  loadAverage: { start: number; end?: number };
  /** The build under test and the baseline build, if any (bench/lib/build.ts). */
  build: string;
  baseline?: string | undefined;
  /** Scenarios that failed, with the first line of their error. */
  failures?: string[];
}

/** The whole report as markdown. */
export function markdownReport(info: RunInfo, results: ScenarioResult[]): string {
  const out: string[] = [];
  out.push(`# Benchmark results`);
  out.push('');
  out.push(
    `${info.date} · Node ${info.node} · ${info.cpuModel} · ${info.cores} cores · ${info.memoryGiB} GiB · ${info.platform} · ${info.mode} mode` +
      `${info.pinned ? ' · HTTP server and messaging workers pinned to core 1, load generator to core 0' : ' · not pinned'}` +
      `${info.durationSeconds !== undefined ? ` · ${Math.round(info.durationSeconds)} s` : ''}` +
      ` · load average ${info.loadAverage.start.toFixed(2)} at start${info.loadAverage.end !== undefined ? `, ${info.loadAverage.end.toFixed(2)} at end` : ''}`,
  );
  out.push('');
  out.push(
    `Code under test: ${info.build} compiled with its own tsup config (ESM), imported by package name${info.baseline !== undefined ? `; baseline: ${info.baseline}, in the same alternating rounds` : ''}. The machine is shared and small: read the paired medians with their ranges.`,
  );
  out.push('');
  if (info.failures !== undefined && info.failures.length > 0) {
    out.push('## Failed scenarios');
    out.push('');
    for (const failure of info.failures) out.push(`- ${failure}`);
    out.push('');
  }
  const checks = results.flatMap((r) => r.checks);
  if (checks.length > 0) {
    out.push('## The bar');
    out.push('');
    out.push(
      markdownTable(
        ['what', 'target', 'measured', ''],
        checks.map((c) => [c.what, c.target, c.measured, c.pass ? 'met' : 'MISSED']),
      ),
    );
    out.push('');
  }
  for (const r of results) {
    out.push(`## ${r.title}`);
    out.push('');
    for (const note of r.notes) out.push(`- ${note}`);
    if (r.notes.length > 0) out.push('');
    out.push(markdownTable(r.table.columns, r.table.rows));
    out.push('');
    for (const extra of r.extraTables ?? []) {
      out.push(`### ${extra.title}`);
      out.push('');
      out.push(markdownTable(extra.columns, extra.rows));
      out.push('');
    }
  }
  return out.join('\n');
}
