/** A readable log-log plot in text, for BENCHMARKS.md: each series a letter, x and y on decade scales. */
export interface PlotSeries {
  mark: string;
  label: string;
  points: Array<{ x: number; y: number }>;
}

const WIDTH = 61;
const HEIGHT = 15;

export function logLogPlot(series: PlotSeries[], axes: { x: string; y: string }): string {
  const points = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.y));
  if (!points.length) return '(nothing measured)';
  const [xMin, xMax] = decadeBounds(points.map((p) => p.x));
  const [yMin, yMax] = decadeBounds(points.map((p) => p.y));
  const grid = Array.from({ length: HEIGHT }, () => Array.from({ length: WIDTH }, () => ' '));
  const column = (x: number): number => Math.round(((Math.log10(x) - xMin) / (xMax - xMin)) * (WIDTH - 1));
  const row = (y: number): number => HEIGHT - 1 - Math.round(((Math.log10(y) - yMin) / (yMax - yMin)) * (HEIGHT - 1));
  for (const s of series) {
    for (const p of s.points) {
      if (!(p.x > 0 && p.y > 0 && Number.isFinite(p.y))) continue;
      const cell = grid[row(p.y)];
      const at = column(p.x);
      cell[at] = cell[at] === ' ' || cell[at] === s.mark ? s.mark : '*';
    }
  }
  const yLabel = (r: number): string => {
    const exponent = yMax - ((yMax - yMin) * r) / (HEIGHT - 1);
    return Number.isInteger(exponent) ? String(10 ** exponent).padStart(7) : ' '.repeat(7);
  };
  const lines = grid.map((cells, r) => `${yLabel(r)} |${cells.join('')}`);
  const ticks = Array.from({ length: WIDTH }, () => ' ');
  for (let e = xMin; e <= xMax; e++) {
    const label = String(10 ** e);
    const at = Math.min(WIDTH - label.length, column(10 ** e));
    for (let i = 0; i < label.length; i++) ticks[at + i] = label[i];
  }
  return [
    `${axes.y} (log)`,
    ...lines,
    `${' '.repeat(8)}+${'-'.repeat(WIDTH)}`,
    `${' '.repeat(9)}${ticks.join('')}`,
    `${' '.repeat(9)}${axes.x} (log)   ${series.map((s) => `${s.mark} = ${s.label}`).join(', ')}; * = both`,
  ].join('\n');
}

function decadeBounds(values: number[]): [number, number] {
  const low = Math.floor(Math.log10(Math.min(...values)));
  const high = Math.ceil(Math.log10(Math.max(...values)));
  return [low, Math.max(high, low + 1)];
}
