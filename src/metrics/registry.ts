/**
 * Counters and histograms kept in this isolate's memory. They start at zero when the isolate
 * starts and are lost when it ends; on Cloudflare many isolates answer, so each scrape of
 * `/metrics` sees the counts of the one isolate that answered it (docs/monitoring.md).
 * Every label set is built from bounded values (route templates, methods, statuses, codes).
 */
import type { Family, HistogramSample, Labels, ValueSample } from "./exposition";

function keyOf(labelNames: readonly string[], labels: Labels): string {
  return labelNames.map((n) => labels[n] ?? "").join("\u0000");
}

export class Counter {
  readonly #series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(this.labelNames, labels);
    const hit = this.#series.get(key);
    if (hit) hit.value += by;
    else this.#series.set(key, { labels: pick(this.labelNames, labels), value: by });
  }

  family(): Family {
    const samples: ValueSample[] = [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: "counter", samples };
  }
}

export class Histogram {
  readonly #series = new Map<string, { labels: Labels; buckets: number[]; count: number; sum: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
    readonly labelNames: readonly string[] = [],
  ) {}

  observe(labels: Labels, value: number): void {
    const key = keyOf(this.labelNames, labels);
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels: pick(this.labelNames, labels), buckets: this.bounds.map(() => 0), count: 0, sum: 0 }));
    // Non-cumulative here (one increment per observation); summed up when rendered.
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.buckets[i]! += 1;
    s.count += 1;
    s.sum += value;
  }

  family(): Family {
    const samples: HistogramSample[] = [...this.#series.values()].map((s) => {
      let running = 0;
      return { labels: s.labels, cumulative: s.buckets.map((n) => (running += n)), count: s.count, sum: s.sum };
    });
    return { name: this.name, help: this.help, type: "histogram", bounds: this.bounds, samples };
  }
}

function pick(labelNames: readonly string[], labels: Labels): Labels {
  return Object.fromEntries(labelNames.map((n) => [n, labels[n] ?? ""]));
}
