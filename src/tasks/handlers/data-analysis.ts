/**
 * data_analysis: descriptive statistics over `metadata.data`.
 *
 * Input (DataAnalysisInput: checked when the task is created, 422 naming the field, and again
 * here, where any problem is a NonRetryableError naming the field):
 * - `data`: an array of numbers; or an array of objects, with `field` naming the property to
 *   read; or CSV text with a header row, with `field` naming the column (see csv.ts).
 * - `field`: required for objects and CSV; with an array of numbers it must be absent.
 *
 * Values that are not numeric (null, booleans, empty cells, "n/a", objects without `field`…) are
 * skipped and counted in `skipped` rather than failing the task: real data sets have gaps, and
 * the count keeps the gap visible. Numeric strings ("3.5") count as numbers, as CSV cells always
 * are strings. A CSV without data rows, or data with no numeric value at all, is a NonRetryableError.
 *
 * Values are processed in chunks of CHUNK_SIZE; after each chunk the handler reports
 * `progress(pct, "processed N of M values")`, which doubles as the cancellation check, so a
 * cancelled task stops within one chunk. Scanning maps to 0–90 %: the sort for the median and
 * percentiles comes after the last report, and the consumer sets 100 % on completion.
 *
 * Result: { count, sum, mean, median, min, max, std_dev, variance, sample_std_dev,
 * sample_variance, p25, p75, p95, skipped, total, source, field?, std_dev_kind: "population",
 * percentile_method: "linear" } — see statistics.ts for the definitions.
 */
import { z } from "zod";
import { NonRetryableError, type TaskContext, type TaskHandler } from "../handler";
import { parseMetadata } from "./common";
import { csvColumn } from "./csv";
import { StatsAccumulator, toNumber, type Summary } from "./statistics";

export const CHUNK_SIZE = 10_000;
/** Progress reported once every value is scanned; the rest is the sort and the final write. */
const SCAN_PROGRESS_SHARE = 90;

const DATA_HELP = "an array of numbers, an array of objects (with metadata.field) or CSV text (with metadata.field)";

export type DataSource = "numbers" | "objects" | "csv";

/** How `data` is read, from its shape alone: CSV text, objects (by `field`) or plain values. */
export function dataSource(data: unknown[] | string): DataSource {
  if (typeof data === "string") return "csv";
  return isRecord(data.find((item) => item !== null && item !== undefined)) ? "objects" : "numbers";
}

/**
 * The input, checked when the task is created and again when it runs. The shape rules (`field`
 * with objects and CSV, no `field` with plain values, no empty array) are here so a create that
 * can never run is refused at once; a CSV's columns and the values themselves are checked at run time.
 */
export const DataAnalysisInput = z
  .object({
    // z.custom, not z.array: an array of 100k values is checked without being copied element by element.
    data: z
      .custom<unknown[] | string>((v) => Array.isArray(v) || typeof v === "string", {
        error: (issue) => (issue.input === undefined ? `is required: ${DATA_HELP}` : `must be ${DATA_HELP}`),
      })
      .describe(`Required: ${DATA_HELP}. Not empty.`),
    field: z
      .string({ error: "must be a string naming a property or CSV column" })
      .trim()
      .min(1, "must not be empty")
      .optional()
      .describe("The property (objects) or column (CSV) to read; required for those, absent for an array of plain values."),
  })
  .superRefine(({ data, field }, ctx) => {
    if (Array.isArray(data) && data.length === 0) {
      ctx.addIssue({ code: "custom", path: ["data"], message: "must not be empty: the array has no items" });
      return;
    }
    const source = dataSource(data);
    if (source !== "numbers" && field === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["field"],
        message: `is required when metadata.data ${source === "csv" ? "is CSV text" : "holds objects"}`,
      });
    }
    if (source === "numbers" && field !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["field"],
        message: "applies to objects or CSV text, but metadata.data is an array of plain values",
      });
    }
  });
export type DataAnalysisInput = z.output<typeof DataAnalysisInput>;

export interface AnalysisResult extends Summary {
  /** Values that were not numeric and were left out of every figure. */
  skipped: number;
  /** Items (array elements or CSV data rows) looked at: count + skipped. */
  total: number;
  source: DataSource;
  field?: string;
  std_dev_kind: "population";
  percentile_method: "linear";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The raw values to analyse and how to read each one (the input's shape rules already hold). */
function prepare({ data, field }: DataAnalysisInput): { items: readonly unknown[]; source: DataSource; read: (item: unknown) => unknown } {
  const source = dataSource(data);
  if (source === "numbers") return { items: data as unknown[], source, read: (item) => item };
  // Unreachable after DataAnalysisInput; narrows `field` for the readers below.
  if (field === undefined) throw new NonRetryableError(`metadata.field is required for ${source} data`);
  if (typeof data === "string") return { items: csvColumn(data, field).cells, source, read: (cell) => cell };
  // Object.hasOwn: a field named "constructor" must not read Object.prototype.
  return { items: data, source, read: (item) => (isRecord(item) && Object.hasOwn(item, field) ? item[field] : undefined) };
}

export const dataAnalysis: TaskHandler = async (ctx: TaskContext): Promise<AnalysisResult> => {
  const input = parseMetadata(DataAnalysisInput, ctx.metadata, "data_analysis");
  const { field } = input;
  const { items, source, read } = prepare(input);
  const total = items.length;
  if (total === 0) throw new NonRetryableError("metadata.data is empty: the CSV has no data rows");

  const stats = new StatsAccumulator(total);
  let skipped = 0;
  for (let start = 0; start < total; start += CHUNK_SIZE) {
    const end = Math.min(start + CHUNK_SIZE, total);
    for (let i = start; i < end; i += 1) {
      const value = toNumber(read(items[i]));
      if (value === undefined) skipped += 1;
      else stats.add(value);
    }
    // Also the cancellation checkpoint: throws TaskCancelled, which propagates as is.
    await ctx.progress(Math.floor((end / total) * SCAN_PROGRESS_SHARE), `processed ${end} of ${total} values`);
  }

  if (stats.count === 0) {
    const where = field === undefined ? "metadata.data" : `metadata.data (field "${field}")`;
    throw new NonRetryableError(`${where} holds no numeric values (${skipped} skipped)`);
  }
  return {
    ...stats.summarize(),
    skipped,
    total,
    source,
    ...(field === undefined ? {} : { field }),
    std_dev_kind: "population",
    percentile_method: "linear",
  };
};
