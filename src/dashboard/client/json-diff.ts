/**
 * A line diff of two JSON values, each pretty-printed with sorted keys (so key order never shows
 * as a change): the longest common subsequence of lines, then removed (`-`), added (`+`) and kept
 * (` `) lines in order. Quadratic, so beyond MAX_LINES per side it reports the whole of each side.
 */

export type DiffLine = { op: " " | "-" | "+"; text: string };

const MAX_LINES = 3000;

/** JSON text with object keys sorted at every depth, two-space indented. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2) ?? "null";
}

export function diffLines(before: string[], after: string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  if (n > MAX_LINES || m > MAX_LINES) {
    return [...before.map((text) => ({ op: "-" as const, text })), ...after.map((text) => ({ op: "+" as const, text }))];
  }
  // lcs[i][j]: the common subsequence length of before[i..] and after[j..], in one flat array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        before[i] === after[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      out.push({ op: " ", text: before[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) {
      out.push({ op: "-", text: before[i++]! });
    } else {
      out.push({ op: "+", text: after[j++]! });
    }
  }
  while (i < n) out.push({ op: "-", text: before[i++]! });
  while (j < m) out.push({ op: "+", text: after[j++]! });
  return out;
}

export function diffJson(before: unknown, after: unknown): DiffLine[] {
  return diffLines(canonicalJson(before).split("\n"), canonicalJson(after).split("\n"));
}
