/** The signals of a view that shows one picked agent at a time (src/dashboard/client/restartable.ts). */
import { describe, expect, it } from "vitest";
import { restartable } from "../../src/dashboard/client/restartable";

describe("restartable", () => {
  it("picking again ends the previous pick's signal only; leaving the view ends the current one", () => {
    const view = new AbortController();
    const next = restartable(view.signal);
    const first = next();
    expect(first.aborted).toBe(false);
    const second = next();
    expect(first.aborted).toBe(true);
    expect(second.aborted).toBe(false);
    expect(view.signal.aborted).toBe(false);
    view.abort();
    expect(second.aborted).toBe(true);
  });

  it("a pick after the view ended starts already ended", () => {
    const view = new AbortController();
    view.abort();
    expect(restartable(view.signal)().aborted).toBe(true);
  });
});
