/** The Prometheus text writer and the per-isolate instruments, read back by a real text-format parser. */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { samples, valueOf } from "../helpers/prometheus";
import { EXPOSITION_CONTENT_TYPE, escapeLabelValue, formatValue, renderExposition, type Family } from "../../src/metrics/exposition";
import { Counter, Histogram } from "../../src/metrics/registry";

describe("exposition format 0.0.4", () => {
  it("declares its version in the content type", () => {
    expect(EXPOSITION_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("escapes backslash, double quote and line feed in label values, and the parser reads the original back", () => {
    const nasty = 'a "quoted" C:\\path\nsecond line';
    expect(escapeLabelValue(nasty)).toBe('a \\"quoted\\" C:\\\\path\\nsecond line');
    const text = renderExposition([
      { name: "odd_total", help: "Odd labels.", type: "counter", samples: [{ labels: { v: nasty }, value: 3 }] },
    ]);
    expect(text).toContain('odd_total{v="a \\"quoted\\" C:\\\\path\\nsecond line"} 3\n');
    // One sample line: the line feed inside the value did not break the line.
    expect(text.split("\n").filter((l) => l.startsWith("odd_total"))).toHaveLength(1);
    const [family] = parsePrometheusTextFormat(text);
    expect(family!.metrics[0]!.labels).toEqual({ v: nasty });
  });

  it("writes HELP and TYPE for every family, an escaped help text, and ends with a line feed", () => {
    const families: Family[] = [
      { name: "a_total", help: "Line one\nline two with \\", type: "counter", samples: [] },
      { name: "b", help: "A gauge.", type: "gauge", samples: [{ labels: {}, value: 1.5 }] },
    ];
    const text = renderExposition(families);
    expect(text.endsWith("\n")).toBe(true);
    expect(text).toContain("# HELP a_total Line one\\nline two with \\\\\n# TYPE a_total counter\n");
    expect(text).toContain("# HELP b A gauge.\n# TYPE b gauge\nb 1.5\n");
    const parsed = parsePrometheusTextFormat(text);
    expect(parsed.map((f) => [f.name, f.type])).toEqual([
      ["a_total", "COUNTER"],
      ["b", "GAUGE"],
    ]);
  });

  it("writes a histogram as cumulative buckets ending with +Inf, then sum and count", () => {
    const h = new Histogram("lat_seconds", "Latency.", [0.1, 1], ["route"]);
    h.observe({ route: "/x" }, 0.05);
    h.observe({ route: "/x" }, 0.5);
    h.observe({ route: "/x" }, 7);
    const text = renderExposition([h.family()]);
    expect(text).toContain('lat_seconds_bucket{route="/x",le="0.1"} 1\n');
    expect(text).toContain('lat_seconds_bucket{route="/x",le="1"} 2\n');
    expect(text).toContain('lat_seconds_bucket{route="/x",le="+Inf"} 3\n');
    expect(parsePrometheusTextFormat(text)[0]!.type).toBe("HISTOGRAM");
    const all = samples(text);
    expect(valueOf(all, "lat_seconds_bucket", { route: "/x", le: "0.1" })).toBe(1);
    expect(valueOf(all, "lat_seconds_bucket", { route: "/x", le: "1" })).toBe(2);
    expect(valueOf(all, "lat_seconds_bucket", { route: "/x", le: "+Inf" })).toBe(3);
    expect(valueOf(all, "lat_seconds_count", { route: "/x" })).toBe(3);
    expect(valueOf(all, "lat_seconds_sum", { route: "/x" })).toBeCloseTo(7.55);
  });

  it("counts per label set, keeping only the declared labels", () => {
    const c = new Counter("req_total", "Requests.", ["method", "status"]);
    c.inc({ method: "GET", status: "200" });
    c.inc({ method: "GET", status: "200" });
    c.inc({ method: "POST", status: "201", extra: "dropped" }, 5);
    const [family] = parsePrometheusTextFormat(renderExposition([c.family()]));
    expect(family!.metrics).toEqual([
      { labels: { method: "GET", status: "200" }, value: "2" },
      { labels: { method: "POST", status: "201" }, value: "5" },
    ]);
  });

  it("formats infinities and NaN as Prometheus reads them", () => {
    expect([Infinity, -Infinity, NaN, 0.25, 3].map(formatValue)).toEqual(["+Inf", "-Inf", "NaN", "0.25", "3"]);
  });
});
