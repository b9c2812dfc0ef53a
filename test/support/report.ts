/**
 * The reliability suites' numbers (faults survived, executions counted on the engines, hostile
 * requests, latencies, RSS), printed as one plain line per measurement so CI logs can be read
 * without jest's console decoration: `[reliability] <suite> <what>: key=value ...`.
 */
export function report(suite: string, what: string, values: Record<string, string | number | boolean>): void {
  const fields = Object.entries(values)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  process.stdout.write(`[reliability] ${suite} ${what}: ${fields}\n`);
}

/** Percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
