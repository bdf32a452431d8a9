/** Hostile HTML bodies through POST /api/v2/email/send: the text derived from them, never a 500, never seconds of CPU. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json } from "../helpers/api";
import { messageRow } from "../helpers/email";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("HTML bodies", () => {
  it("an out-of-range or surrogate character reference is U+FFFD in the derived text (it was a 500)", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const html = "<p>big &#99999999; hex &#x110000; surrogate &#xD800; ok &#233;</p>";
    const res = await call("/api/v2/email/send", { body: { to: ["a@example.com"], subject: "Refs", html } });
    expect(res.status).toBe(201);
    const sent = await json<{ message_id: string; text: string }>(res);
    expect(sent.text).toBe("big \uFFFD hex \uFFFD surrogate \uFFFD ok é");
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder.text).toBe(sent.text);
    expect((await messageRow(sent.message_id))?.status).toBe("sent");
  });

  it("512 KiB of unclosed <style> openers is sent in a few seconds at most, not the 7.5 s of CPU it took", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const opener = "<style>";
    const html = `<p>Report</p>${opener.repeat(Math.floor((512 * 1024 - 20) / opener.length))}`;
    const started = Date.now();
    const res = await call("/api/v2/email/send", { body: { to: ["a@example.com"], subject: "Big", html } });
    const ms = Date.now() - started;
    expect(res.status).toBe(201);
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder.text).toBe("Report");
    // The whole request takes a few hundred milliseconds here; the regular expressions this
    // replaced took about 7.5 s of CPU for this body alone.
    expect(ms).toBeLessThan(4000);
  }, 30_000);
});
