/** Percentile by nearest rank over a copy of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function summary(values: readonly number[], unit = 'ms'): string {
  const format = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
  return `p50 ${format(percentile(values, 50))}, p99 ${format(percentile(values, 99))}, min ${format(Math.min(...values))}, max ${format(Math.max(...values))} (n=${values.length})`;
}
