// The app's SVG bar chart (the Today screen's calls by hour, the team dashboard's calls by hour or day):
// one bar a bucket, its count above it and its label below, 28 units apart and 100 high at the most.

/** One bar: `value` sets its height; `part` (connected calls, say) is drawn darker inside it when given. */
export interface Bar {
  key: string | number;
  label: string;
  value: number;
  part?: number;
}

const STEP = 28;

/**
 * The bars as an image whose accessible name is `label` (which should say what the bars say, as a
 * screen reader does not read the bars). A bar of 0 has no count above it unless `zeroCounts`.
 */
export function BarChart({
  bars,
  label,
  testId,
  zeroCounts = false,
}: {
  bars: Bar[];
  label: string;
  testId?: string;
  zeroCounts?: boolean;
}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return (
    <svg
      className="hourly"
      viewBox={`0 0 ${Math.max(bars.length, 1) * STEP} 130`}
      role="img"
      aria-label={label}
      data-testid={testId}
    >
      {bars.map((b, i) => {
        const height = (100 * b.value) / max;
        return (
          <g key={b.key} transform={`translate(${i * STEP + 4}, 0)`}>
            <rect className="hour-bar" x={0} y={105 - height} width={20} height={height} rx={3} data-count={b.value} />
            {b.part !== undefined && (
              <rect
                className="hour-bar-connected"
                x={0}
                y={105 - (100 * b.part) / max}
                width={20}
                height={(100 * b.part) / max}
                rx={3}
              />
            )}
            {(zeroCounts || b.value > 0) && (
              <text className="hour-count" x={10} y={100 - height} textAnchor="middle">
                {b.value}
              </text>
            )}
            <text className="hour-label" x={10} y={122} textAnchor="middle">
              {b.label}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
