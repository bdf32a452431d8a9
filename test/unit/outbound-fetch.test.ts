/**
 * policedFetch with fetch replaced: every request it would send is recorded and answered here,
 * none leaves the process.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_REDIRECTS, OutboundRefused, policedFetch, TooManyRedirects } from "../../src/lib/outbound-fetch";
import { DEFAULT_POLICY, parseAllowEntry } from "../../src/lib/outbound-policy";

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  body: string;
  redirect: string;
}

/** Answers each request with `answer(url)`; records what was sent. */
function fakeNetwork(answer: (url: string) => Response): Sent[] {
  const sent: Sent[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    sent.push({ url: req.url, method: req.method, headers: req.headers, body: await req.text(), redirect: init?.redirect ?? "follow" });
    return answer(req.url);
  });
  return sent;
}

const redirect = (status: number, location: string) => new Response(null, { status, headers: { location } });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("policedFetch", () => {
  it("sends nothing to a refused URL", async () => {
    const sent = fakeNetwork(() => new Response("secret"));
    const attempt = policedFetch("http://169.254.169.254/latest/meta-data/", {}, DEFAULT_POLICY);
    await expect(attempt).rejects.toBeInstanceOf(OutboundRefused);
    await expect(attempt).rejects.toMatchObject({ hop: 0, origin: "http://169.254.169.254", refusal: { rule: "link_local" } });
    expect(sent).toEqual([]);
  });

  it("fetches the canonical spelling of the URL it checked, with redirect: manual", async () => {
    const sent = fakeNetwork(() => new Response("ok"));
    const policy = { allowHosts: [parseAllowEntry("127.0.0.1:9")] };
    const res = await policedFetch("http://2130706433:9/a?b=1", {}, policy);
    expect(await res.text()).toBe("ok");
    expect(sent.map((s) => [s.url, s.redirect])).toEqual([["http://127.0.0.1:9/a?b=1", "manual"]]);
  });

  it("checks a redirect hop before following it, and sends nothing there", async () => {
    const sent = fakeNetwork((url) =>
      url.startsWith("https://hooks.example.com/") ? redirect(302, "http://169.254.169.254/latest/meta-data/iam") : new Response("secret"),
    );
    const attempt = policedFetch("https://hooks.example.com/cb", { method: "POST", body: "{}" }, DEFAULT_POLICY);
    await expect(attempt).rejects.toMatchObject({
      name: "OutboundRefused",
      hop: 1,
      origin: "http://169.254.169.254",
      refusal: { rule: "link_local" },
      message: expect.stringMatching(/^redirect 1 to http:\/\/169\.254\.169\.254 is refused by the outbound policy \(link_local\)/),
    });
    expect(sent.map((s) => s.url)).toEqual(["https://hooks.example.com/cb"]);
  });

  it("an allow-listed host cannot redirect to another loopback spelling", async () => {
    const sent = fakeNetwork((url) =>
      url.startsWith("http://localhost:8080/") ? redirect(307, "http://127.0.0.1:8080/admin") : new Response("admin"),
    );
    const policy = { allowHosts: [parseAllowEntry("localhost:8080")] };
    await expect(policedFetch("http://localhost:8080/start", {}, policy)).rejects.toMatchObject({ hop: 1, refusal: { rule: "loopback" } });
    expect(sent.map((s) => s.url)).toEqual(["http://localhost:8080/start"]);
  });

  it("resolves a relative Location against the current URL and re-checks it", async () => {
    const sent = fakeNetwork((url) => {
      if (url.endsWith("/one")) return redirect(301, "two?x=1");
      if (url.endsWith("/two?x=1")) return redirect(308, "//api.example.com/three");
      return new Response("done");
    });
    const res = await policedFetch("https://example.com/dir/one", {}, DEFAULT_POLICY);
    expect(await res.text()).toBe("done");
    expect(sent.map((s) => s.url)).toEqual([
      "https://example.com/dir/one",
      "https://example.com/dir/two?x=1",
      "https://api.example.com/three",
    ]);
  });

  it("follows 307/308 with the method and body, 303 and a POST's 301/302 as a GET without a body", async () => {
    const sent = fakeNetwork((url) => {
      const step = new URL(url).pathname;
      if (step === "/a") return redirect(307, "/b");
      if (step === "/b") return redirect(302, "/c");
      return new Response("end");
    });
    await policedFetch(
      "https://example.com/a",
      { method: "POST", body: '{"k":1}', headers: { "content-type": "application/json", "x-keep": "1" } },
      DEFAULT_POLICY,
    );
    expect(sent.map((s) => [s.method, s.body, s.headers.get("content-type"), s.headers.get("x-keep")])).toEqual([
      ["POST", '{"k":1}', "application/json", "1"],
      ["POST", '{"k":1}', "application/json", "1"],
      ["GET", "", null, "1"],
    ]);
    vi.restoreAllMocks();
    const again = fakeNetwork((url) => (url.endsWith("/x") ? redirect(303, "/y") : new Response("end")));
    await policedFetch("https://example.com/x", { method: "PUT", body: "raw" }, DEFAULT_POLICY);
    expect(again.map((s) => [s.method, s.body])).toEqual([
      ["PUT", "raw"],
      ["GET", ""],
    ]);
  });

  it("drops credential headers when a redirect changes the origin, and keeps them on the same origin", async () => {
    const sent = fakeNetwork((url) => {
      if (url === "https://example.com/a") return redirect(302, "/b");
      if (url === "https://example.com/b") return redirect(302, "https://other.example.net/c");
      return new Response("end");
    });
    await policedFetch("https://example.com/a", { headers: { authorization: "Bearer t", cookie: "s=1", "x-other": "y" } }, DEFAULT_POLICY);
    expect(sent.map((s) => [s.url, s.headers.get("authorization"), s.headers.get("cookie"), s.headers.get("x-other")])).toEqual([
      ["https://example.com/a", "Bearer t", "s=1", "y"],
      ["https://example.com/b", "Bearer t", "s=1", "y"],
      ["https://other.example.net/c", null, null, "y"],
    ]);
  });

  it(`follows at most ${MAX_REDIRECTS} redirects`, async () => {
    const sent = fakeNetwork((url) => redirect(302, `/n${Number(new URL(url).pathname.slice(2)) + 1}`));
    await expect(policedFetch("https://example.com/n0", {}, DEFAULT_POLICY)).rejects.toBeInstanceOf(TooManyRedirects);
    expect(sent).toHaveLength(MAX_REDIRECTS + 1);
    vi.restoreAllMocks();
    const enough = fakeNetwork((url) => {
      const n = Number(new URL(url).pathname.slice(2));
      return n < MAX_REDIRECTS ? redirect(302, `/n${n + 1}`) : new Response("arrived");
    });
    expect(await (await policedFetch("https://example.com/n0", {}, DEFAULT_POLICY)).text()).toBe("arrived");
    expect(enough).toHaveLength(MAX_REDIRECTS + 1);
  });

  it("returns a redirect without a Location as the response, and refuses a Location that is not a URL", async () => {
    fakeNetwork(() => new Response("moved", { status: 302 }));
    const res = await policedFetch("https://example.com/", {}, DEFAULT_POLICY);
    expect([res.status, await res.text()]).toEqual([302, "moved"]);
    vi.restoreAllMocks();
    fakeNetwork(() => redirect(302, "http://[::1"));
    await expect(policedFetch("https://example.com/", {}, DEFAULT_POLICY)).rejects.toMatchObject({
      hop: 1,
      refusal: { rule: "invalid_url" },
    });
  });
});
