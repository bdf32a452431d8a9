/**
 * Reading `/metrics` with a real Prometheus text-format parser (parse-prometheus-text-format).
 * The parser merges a histogram's samples into one per family, dropping their labels, so labelled
 * histograms are read as plain samples: `samples` parses the text without its HELP and TYPE lines,
 * which the parser then reads line by line, labels and escapes included.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function families(text: string): ParsedFamily[] {
  return parsePrometheusTextFormat(text);
}

export function samples(text: string): Sample[] {
  const bare = text
    .split("\n")
    .filter((line) => !line.startsWith("#"))
    .join("\n");
  return parsePrometheusTextFormat(bare).flatMap((f) =>
    f.metrics.map((m) => ({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) })),
  );
}

/** The value of the one sample with this name and exactly these labels; undefined when there is none. */
export function valueOf(all: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const hits = all.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} ${want}`);
  return hits[0]?.value;
}
