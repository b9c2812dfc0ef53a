const SPARK_WIDTH = 240;
const SPARK_HEIGHT = 36;

/**
 * A tiny inline SVG line of `values` (no chart library: a polyline is all a sparkline needs, and
 * the bundle stays small). The y axis runs from 0 to the largest value shown.
 */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  // Headroom above the largest value, so a flat line stays visible inside the box.
  const max = Math.max(...values, 1e-9) * 1.15;
  // Until the window is full the line spans what there is, so a fresh chart is not a dot in a corner.
  const step = SPARK_WIDTH / Math.max(1, values.length - 1);
  const y = (v: number) => SPARK_HEIGHT - 2 - (v / max) * (SPARK_HEIGHT - 4);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const box = `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`;
  return (
    <svg class="spark" width={SPARK_WIDTH} height={SPARK_HEIGHT} viewBox={box} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" stroke-width={1.5} />
    </svg>
  );
}
