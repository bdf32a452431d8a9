/**
 * The Prometheus text exposition format, version 0.0.4: one `# HELP` and one `# TYPE` line per
 * family, then its samples. Label values are escaped (backslash, double quote, line feed), and
 * so is help text (backslash, line feed). Histograms are written as cumulative `_bucket{le=…}`
 * samples ending with `le="+Inf"`, then `_sum` and `_count`.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Readonly<Record<string, string>>;

export interface ValueSample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  /** Cumulative counts, one per bound of the family's `bounds` (observations ≤ that bound). */
  cumulative: readonly number[];
  count: number;
  sum: number;
}

export type Family =
  | { name: string; help: string; type: "counter" | "gauge"; samples: readonly ValueSample[] }
  | { name: string; help: string; type: "histogram"; bounds: readonly number[]; samples: readonly HistogramSample[] };

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Go's float formatting as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/** The whole exposition: every family, HELP and TYPE first, ending with a line feed. */
export function renderExposition(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === "histogram") {
      for (const s of family.samples) {
        family.bounds.forEach((bound, i) => {
          lines.push(`${family.name}_bucket${labelText(s.labels, ["le", formatValue(bound)])} ${formatValue(s.cumulative[i] ?? 0)}`);
        });
        lines.push(`${family.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${formatValue(s.count)}`);
        lines.push(`${family.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
        lines.push(`${family.name}_count${labelText(s.labels)} ${formatValue(s.count)}`);
      }
    } else {
      for (const s of family.samples) lines.push(`${family.name}${labelText(s.labels)} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
