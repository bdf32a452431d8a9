/** The Analytics Engine data point of a request: its layout and the 96-byte index. */
import { describe, expect, it } from "vitest";
import { MAX_INDEX_BYTES, requestDataPoint, requestDataset, truncateUtf8 } from "../../src/metrics/request-point";

const bytes = (s: string) => new TextEncoder().encode(s).byteLength;

describe("request data point", () => {
  it("lays out method, route, status, code and colo as blobs, time and status as doubles, the route as index", () => {
    const point = requestDataPoint({
      method: "POST",
      route: "/api/v2/x/:id",
      status: 422,
      code: "validation_failed",
      seconds: 0.012,
      colo: "AMS",
    });
    expect(point).toEqual({
      indexes: ["/api/v2/x/:id"],
      blobs: ["POST", "/api/v2/x/:id", "422", "validation_failed", "AMS"],
      doubles: [0.012, 422],
    });
  });

  it("cuts an index to 96 bytes of UTF-8 without splitting a character", () => {
    const long = `/${"é".repeat(100)}`; // 1 + 200 bytes
    const cut = truncateUtf8(long, MAX_INDEX_BYTES);
    expect(bytes(cut)).toBeLessThanOrEqual(MAX_INDEX_BYTES);
    expect(cut).toBe(`/${"é".repeat(47)}`); // 95 bytes: a 48th é would need bytes 96–97
    expect(truncateUtf8("/short", MAX_INDEX_BYTES)).toBe("/short");
    const point = requestDataPoint({ method: "GET", route: long, status: 200, code: undefined, seconds: 0, colo: undefined });
    expect(bytes(point.indexes![0] as string)).toBeLessThanOrEqual(MAX_INDEX_BYTES);
    expect(point.blobs).toEqual(["GET", long, "200", "", ""]);
  });

  it("finds the dataset only when the binding has writeDataPoint", () => {
    expect(requestDataset({})).toBeUndefined();
    expect(requestDataset({ METRICS_EVENTS: "not a binding" })).toBeUndefined();
    const dataset = { writeDataPoint() {} };
    expect(requestDataset({ METRICS_EVENTS: dataset })).toBe(dataset);
  });
});
