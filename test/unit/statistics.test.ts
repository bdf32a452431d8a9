import { describe, expect, it } from "vitest";
import { percentile, StatsAccumulator, toNumber } from "../../src/tasks/handlers/statistics";

function summarize(values: number[]) {
  const acc = new StatsAccumulator(values.length);
  for (const v of values) acc.add(v);
  return acc.summarize();
}

describe("percentile (linear interpolation, numpy's default)", () => {
  it("interpolates between closest ranks", () => {
    const sorted = [1, 2, 3, 4, 5];
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 25)).toBe(2);
    expect(percentile(sorted, 50)).toBe(3);
    expect(percentile(sorted, 95)).toBeCloseTo(4.8, 12);
    expect(percentile(sorted, 100)).toBe(5);
    expect(percentile([10, 20], 25)).toBe(12.5);
  });

  it("refuses an empty list or a percentile outside 0–100", () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe("StatsAccumulator", () => {
  it("[1, 2, 3, 4, 5]: mean 3, median 3, p25 2, p75 4, p95 4.8, population std dev √2", () => {
    const s = summarize([3, 1, 5, 2, 4]);
    expect(s).toMatchObject({ count: 5, sum: 15, mean: 3, median: 3, min: 1, max: 5, p25: 2, p75: 4, variance: 2 });
    expect(s.p95).toBeCloseTo(4.8, 12);
    expect(s.std_dev).toBeCloseTo(Math.SQRT2, 12);
    expect(s.sample_variance).toBeCloseTo(2.5, 12);
    expect(s.sample_std_dev).toBeCloseTo(Math.sqrt(2.5), 12);
  });

  it("takes the median of an even count as the mean of the middle two", () => {
    const s = summarize([4, 1, 3, 2]);
    expect(s.median).toBe(2.5);
    expect(s.p25).toBe(1.75);
    expect(s.p75).toBe(3.25);
    expect(s.p95).toBeCloseTo(3.85, 12);
    expect(s.mean).toBe(2.5);
    expect(s.variance).toBeCloseTo(1.25, 12);
  });

  it("summarizes a single value, with no sample deviation", () => {
    const s = summarize([42]);
    expect(s).toEqual({
      count: 1,
      sum: 42,
      mean: 42,
      median: 42,
      min: 42,
      max: 42,
      std_dev: 0,
      variance: 0,
      sample_std_dev: null,
      sample_variance: null,
      p25: 42,
      p75: 42,
      p95: 42,
    });
  });

  it("handles negative and fractional values", () => {
    const s = summarize([-2.5, 0.5, -1, 3.25]);
    expect(s.sum).toBeCloseTo(0.25, 12);
    expect(s.mean).toBeCloseTo(0.0625, 12);
    expect(s.min).toBe(-2.5);
    expect(s.max).toBe(3.25);
    expect(s.median).toBeCloseTo(-0.25, 12);
    const mean = 0.0625;
    const variance = [-2.5, 0.5, -1, 3.25].reduce((a, v) => a + (v - mean) ** 2, 0) / 4;
    expect(s.variance).toBeCloseTo(variance, 12);
  });

  it("grows past its expected count and can summarize more than once", () => {
    const acc = new StatsAccumulator(1);
    for (const v of [5, 1, 3]) acc.add(v);
    expect(acc.summarize().median).toBe(3);
    acc.add(7);
    expect(acc.summarize()).toMatchObject({ count: 4, median: 4, max: 7 });
  });

  it("refuses non-finite values and an empty summary", () => {
    const acc = new StatsAccumulator();
    expect(() => acc.add(Number.NaN)).toThrow(RangeError);
    expect(() => acc.add(Infinity)).toThrow(RangeError);
    expect(() => acc.summarize()).toThrow(RangeError);
  });

  it("matches a simple two-pass reference over 100,000 values", () => {
    // A deterministic pseudo-random series (LCG), offset so the mean is far from 0.
    let seed = 12345;
    const values = Array.from({ length: 100_000 }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1000 + (seed / 2 ** 31) * 500 - 250;
    });
    const n = values.length;
    const sum = values.reduce((a, v) => a + v, 0);
    const mean = sum / n;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    const sorted = [...values].sort((a, b) => a - b);
    const ref = (p: number) => {
      const rank = (p / 100) * (n - 1);
      const lo = Math.floor(rank);
      return sorted[lo]! + (sorted[Math.ceil(rank)]! - sorted[lo]!) * (rank - lo);
    };

    const s = summarize(values);
    expect(s.count).toBe(n);
    expect(s.sum).toBeCloseTo(sum, 6);
    expect(s.mean).toBeCloseTo(mean, 9);
    expect(s.variance).toBeCloseTo(variance, 6);
    expect(s.std_dev).toBeCloseTo(Math.sqrt(variance), 9);
    expect(s.sample_variance).toBeCloseTo((variance * n) / (n - 1), 6);
    expect(s.min).toBe(sorted[0]);
    expect(s.max).toBe(sorted[n - 1]);
    expect(s.median).toBe(ref(50));
    expect(s.p25).toBe(ref(25));
    expect(s.p75).toBe(ref(75));
    expect(s.p95).toBe(ref(95));
  });
});

describe("toNumber", () => {
  it("accepts finite numbers and decimal strings", () => {
    expect(toNumber(3)).toBe(3);
    expect(toNumber(" -4.5 ")).toBe(-4.5);
    expect(toNumber("1e3")).toBe(1000);
    expect(toNumber(".5")).toBe(0.5);
  });

  it("rejects everything else", () => {
    for (const v of [Number.NaN, Infinity, "", "  ", "n/a", "0x10", "Infinity", "1,5", null, undefined, true, {}, [1]]) {
      expect(toNumber(v)).toBeUndefined();
    }
  });
});
