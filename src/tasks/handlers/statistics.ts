/**
 * Descriptive statistics, kept free of task plumbing so they can be tested on their own.
 *
 * Definitions (also named in the data_analysis result):
 * - Percentiles (and the median) use linear interpolation between closest ranks, numpy's default
 *   (`method="linear"`, Hyndman & Fan type 7): rank = p/100 · (n − 1), and the value is
 *   interpolated between the sorted values at floor(rank) and ceil(rank).
 *   [1, 2, 3, 4, 5] → p25 = 2, median = 3, p75 = 4, p95 = 4.8.
 * - `std_dev`/`variance` are the population kind (divide by n); `sample_std_dev`/
 *   `sample_variance` divide by n − 1 and are null for a single value.
 *
 * The accumulator is streaming: mean and variance use Welford's update and the sum Neumaier's
 * compensated summation, so feeding values chunk by chunk loses no precision. Order statistics
 * need every value, so they are kept in a growable Float64Array (8 bytes a value; the 1 MiB
 * metadata limit keeps that well under the Worker's memory).
 */

export interface Summary {
  count: number;
  sum: number;
  mean: number;
  median: number;
  min: number;
  max: number;
  /** Population standard deviation (divides by n). */
  std_dev: number;
  /** Population variance (divides by n). */
  variance: number;
  /** Sample standard deviation (divides by n − 1); null when count is 1. */
  sample_std_dev: number | null;
  sample_variance: number | null;
  p25: number;
  p75: number;
  p95: number;
}

/**
 * The p-th percentile (0–100) of values sorted ascending, by linear interpolation between closest
 * ranks (numpy's default). Throws on an empty input: there is no such percentile.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("percentile of an empty list");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0–100, got ${p}`);
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const below = sorted[lo] as number;
  const above = sorted[hi] as number;
  return below + (above - below) * (rank - lo);
}

export class StatsAccumulator {
  private values: Float64Array;
  private n = 0;
  private mean = 0;
  /** Sum of squared deviations from the running mean (Welford's M2). */
  private m2 = 0;
  private sum = 0;
  /** Neumaier's running compensation for the low-order bits `sum` lost. */
  private compensation = 0;
  private min = Infinity;
  private max = -Infinity;

  constructor(expectedCount = 1024) {
    this.values = new Float64Array(Math.max(1, expectedCount));
  }

  get count(): number {
    return this.n;
  }

  /** Adds one finite number; callers filter out everything else (NaN would poison every figure). */
  add(value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n] = value;
    this.n += 1;

    const delta = value - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (value - this.mean);

    const t = this.sum + value;
    this.compensation += Math.abs(this.sum) >= Math.abs(value) ? this.sum - t + value : value - t + this.sum;
    this.sum = t;

    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The statistics so far. Sorts a copy, so more values may still be added afterwards. */
  summarize(): Summary {
    const n = this.n;
    if (n === 0) throw new RangeError("no values to summarize");
    // Float64Array sorts numerically (unlike Array#sort's string order).
    const sorted = this.values.slice(0, n).sort();
    const variance = this.m2 / n;
    const sampleVariance = n > 1 ? this.m2 / (n - 1) : null;
    return {
      count: n,
      sum: this.sum + this.compensation,
      mean: this.mean,
      median: percentile(sorted, 50),
      min: this.min,
      max: this.max,
      std_dev: Math.sqrt(variance),
      variance,
      sample_std_dev: sampleVariance === null ? null : Math.sqrt(sampleVariance),
      sample_variance: sampleVariance,
      p25: percentile(sorted, 25),
      p75: percentile(sorted, 75),
      p95: percentile(sorted, 95),
    };
  }
}

/** Whole decimal numbers only: "0x10", "Infinity" or "1,5" are not data values. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A data value as a number, or undefined when it is not numeric. Finite numbers and decimal
 * strings (CSV cells are always strings; JSON producers often quote numbers) count; null,
 * booleans, objects, empty strings and non-finite values do not.
 */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!DECIMAL.test(text)) return undefined;
  const parsed = Number(text);
  return Number.isFinite(parsed) ? parsed : undefined;
}
