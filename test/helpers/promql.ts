/**
 * The metric names a PromQL expression reads: identifiers that are neither functions (followed by
 * `(`), aggregation clauses (`by (…)`), label matchers (`{…}`), range selectors (`[…]`) nor keywords.
 */
const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"]);

export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!)) continue;
    names.push(m[1]!);
  }
  return names;
}

/** Every sample name a scrape may carry: each family's name, and a histogram's _bucket/_sum/_count. */
export function exposedSampleNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}
