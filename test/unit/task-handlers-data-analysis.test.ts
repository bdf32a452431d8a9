import { describe, expect, it } from "vitest";
import { NonRetryableError, TaskCancelled, type TaskContext } from "../../src/tasks/handler";
import { CHUNK_SIZE, dataAnalysis, type AnalysisResult } from "../../src/tasks/handlers/data-analysis";

/** A TaskContext that records progress calls; with `cancelAfter`, progress throws TaskCancelled after that many calls. */
function fakeContext(metadata: Record<string, unknown>, cancelAfter?: number) {
  const progress: { percent: number; message?: string }[] = [];
  const ctx: TaskContext = {
    taskId: "task-1",
    agentId: "agent-1",
    taskType: "data_analysis",
    attempt: 1,
    metadata,
    signal: new AbortController().signal,
    async progress(percent, message) {
      progress.push({ percent, message });
      if (cancelAfter !== undefined && progress.length > cancelAfter) throw new TaskCancelled();
    },
    async checkpoint() {},
  };
  return { ctx, progress };
}

const run = async (metadata: Record<string, unknown>) => (await dataAnalysis(fakeContext(metadata).ctx)) as AnalysisResult;

describe("data_analysis handler", () => {
  it("[1, 2, 3, 4, 5] → mean 3, with the definitions named", async () => {
    const result = await run({ data: [1, 2, 3, 4, 5] });
    expect(result).toMatchObject({
      count: 5,
      sum: 15,
      mean: 3,
      median: 3,
      min: 1,
      max: 5,
      p25: 2,
      p75: 4,
      skipped: 0,
      total: 5,
      source: "numbers",
      std_dev_kind: "population",
      percentile_method: "linear",
    });
    expect(result.p95).toBeCloseTo(4.8, 12);
    expect(result.std_dev).toBeCloseTo(Math.SQRT2, 12);
    expect(result).not.toHaveProperty("field");
    // The result is stored as JSON: it must survive a round trip unchanged.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it("reads metadata.field from objects, skipping and counting non-numeric values", async () => {
    const data = [{ v: 10 }, { v: "20" }, { v: null }, { w: 5 }, { v: "n/a" }, 7, { v: 30 }];
    const result = await run({ data, field: "v" });
    expect(result).toMatchObject({ count: 3, sum: 60, mean: 20, median: 20, skipped: 4, total: 7, source: "objects", field: "v" });
  });

  it("reads a CSV column, skipping empty cells", async () => {
    const data = 'city,"temp, °C"\r\n"Paris, FR",12.5\r\nOslo,\r\nRome,20.5\r\n';
    const result = await run({ data, field: "temp, °C" });
    expect(result).toMatchObject({ count: 2, mean: 16.5, min: 12.5, max: 20.5, skipped: 1, total: 3, source: "csv", field: "temp, °C" });
  });

  it("reports progress after each chunk", async () => {
    const n = CHUNK_SIZE * 2 + 500;
    const { ctx, progress } = fakeContext({ data: Array.from({ length: n }, (_, i) => i) });
    const result = (await dataAnalysis(ctx)) as AnalysisResult;
    expect(result.count).toBe(n);
    expect(result.median).toBe((n - 1) / 2);
    expect(progress.map((p) => p.message)).toEqual([
      `processed ${CHUNK_SIZE} of ${n} values`,
      `processed ${CHUNK_SIZE * 2} of ${n} values`,
      `processed ${n} of ${n} values`,
    ]);
    const percents = progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBe(90);
  });

  it("stops between chunks when the task is cancelled, rethrowing TaskCancelled", async () => {
    const { ctx, progress } = fakeContext({ data: Array.from({ length: CHUNK_SIZE * 5 }, () => 1) }, 2);
    await expect(dataAnalysis(ctx)).rejects.toBeInstanceOf(TaskCancelled);
    // The 3rd report threw: chunks 4 and 5 were never processed.
    expect(progress).toHaveLength(3);
    expect(progress[2]?.message).toBe(`processed ${CHUNK_SIZE * 3} of ${CHUNK_SIZE * 5} values`);
  });

  it.each([
    [{}, /metadata\.data: is required/],
    [{ data: 42 }, /metadata\.data: must be an array of numbers/],
    [{ data: [] }, /metadata\.data: must not be empty/],
    [{ data: "a,b\n", field: "a" }, /the CSV has no data rows/],
    [{ data: [{ v: 1 }] }, /metadata\.field: is required when metadata\.data holds objects/],
    [{ data: "v\n1" }, /metadata\.field: is required when metadata\.data is CSV text/],
    [{ data: [1, 2], field: "v" }, /metadata\.field: applies to objects or CSV/],
    [{ data: [{ v: 1 }], field: 3 }, /metadata\.field: must be a string/],
    [{ data: [{ v: 1 }], field: " " }, /metadata\.field: must not be empty/],
    [{ data: "v\n1", field: "w" }, /metadata\.field: "w" is not a column/],
    [{ data: ["x", null, true] }, /holds no numeric values \(3 skipped\)/],
    [{ data: [{ v: "x" }], field: "v" }, /field "v"\) holds no numeric values/],
  ])("refuses invalid input %j without retries", async (metadata, message) => {
    const attempt = run(metadata);
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(message);
  });

  it("does not read inherited properties as fields", async () => {
    await expect(run({ data: [{ v: 1 }], field: "constructor" })).rejects.toThrow(/no numeric values \(1 skipped\)/);
  });
});
