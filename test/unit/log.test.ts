import { afterEach, describe, expect, it, vi } from "vitest";
import { log, logError, setLogLevel, warn } from "../../src/lib/log";

describe("structured logging", () => {
  afterEach(() => {
    setLogLevel("info");
    vi.restoreAllMocks();
  });

  it("writes one JSON object per event, with level and time, through the console method of its level", () => {
    const out = vi.spyOn(console, "info").mockImplementation(() => {});
    log({ event: "state.saved", request_id: "r1", agent_id: "a", version: 3, bytes: 10 });
    expect(out).toHaveBeenCalledTimes(1);
    const line = JSON.parse(out.mock.calls[0]![0] as string);
    expect(line).toMatchObject({ level: "info", event: "state.saved", request_id: "r1", agent_id: "a", version: 3 });
    expect(line.time).toMatch(/Z$/);
  });

  it("drops events below LOG_LEVEL", () => {
    const info = vi.spyOn(console, "info").mockImplementation(() => {});
    const warning = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    setLogLevel("warn");
    log({ event: "state.deleted", agent_id: "a" });
    warn({ event: "auth.refused", reason: "x" });
    logError({ event: "http.error", status: 500, code: "internal_error", method: "GET", path: "/" });
    expect(info).not.toHaveBeenCalled();
    expect(warning).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledTimes(1);
  });
});
