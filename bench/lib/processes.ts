/**
 * A row of a scenario runs in several processes (identical processes differ for their whole
 * life); its rounds go round-robin over them. One naming rule for the HTTP servers and the
 * messaging workers: `<row>#<index>`.
 */

/** The process a row's `round` runs on (warm-up rounds are negative). */
export function processOf(row: string, round: number, processes: number): string {
  return `${row}#${((round % processes) + processes) % processes}`;
}

/** The row a process name of {@link processOf} belongs to. */
export function rowOfProcess(name: string): string {
  return name.slice(0, name.lastIndexOf('#'));
}
