/** The version diff the dashboard shows (src/dashboard/client/json-diff.ts). */
import { describe, expect, it } from "vitest";
import { canonicalJson, diffJson, diffLines } from "../../src/dashboard/client/json-diff";

describe("diffJson", () => {
  it("marks changed, added and removed members, and keeps the rest", () => {
    const lines = diffJson({ step: 1, topic: "sales", old: true }, { step: 2, topic: "sales", extra: [1] });
    expect(lines.filter((l) => l.op === "-").map((l) => l.text.trim())).toEqual(['"old": true,', '"step": 1,']);
    expect(lines.filter((l) => l.op === "+").map((l) => l.text.trim())).toEqual(['"extra": [', "1", "],", '"step": 2,']);
    expect(lines.filter((l) => l.op === " ").map((l) => l.text.trim())).toEqual(["{", '"topic": "sales"', "}"]);
  });

  it("ignores key order, and reports nothing for equal data", () => {
    expect(diffJson({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 }).every((l) => l.op === " ")).toBe(true);
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{\n  "a": 2,\n  "b": 1\n}');
  });

  it("keeps both sides in order for unrelated texts, and every line of each side appears once", () => {
    const before = ["a", "b", "c", "d"];
    const after = ["x", "b", "y", "d", "z"];
    const out = diffLines(before, after);
    expect(out.filter((l) => l.op !== "+").map((l) => l.text)).toEqual(before);
    expect(out.filter((l) => l.op !== "-").map((l) => l.text)).toEqual(after);
    expect(out.filter((l) => l.op === " ").map((l) => l.text)).toEqual(["b", "d"]);
  });
});
