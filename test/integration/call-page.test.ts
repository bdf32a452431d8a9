/** The call page over HTTP, without a browser: headers, refusals, assets, and the token-read transcript it loads. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callWith, json, problem } from "../helpers/api";
import { addParticipant, createCall } from "../helpers/calls";

const UNKNOWN_CALL = "call_ffffffffffffffffffffffff";
const page = (path: string) => call(path, { token: null });

describe("GET /calls/{call_id}", () => {
  it("a participant's join_url is PUBLIC_BASE_URL/calls/{call_id}?token=… and opens the call page", async () => {
    const c = await createCall();
    const joined = await addParticipant(c.call_id, "alice");
    // PUBLIC_BASE_URL is wrangler.toml's http://localhost:8787 in the tests.
    expect(joined.join_url).toBe(`http://localhost:8787/calls/${c.call_id}?token=${encodeURIComponent(joined.join_token)}`);
    const url = new URL(joined.join_url);
    expect(url.searchParams.get("token")).toBe(joined.join_token);
    const res = await page(url.pathname + url.search);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain(`data-call-id="${c.call_id}"`);
    // The same token opens what the page reads with it (here the transcript).
    expect((await call(`/api/v2/calls/${c.call_id}/transcript${url.search}`, { token: null })).status).toBe(200);
  });

  it("serves the page with a strict CSP, no credentials needed and nothing about the call in it", async () => {
    const c = await createCall({ metadata: { secret: "not-for-the-page" } });
    await addParticipant(c.call_id, "<b>Mallory</b>");
    const res = await page(`/calls/${c.call_id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toContain(`data-call-id="${c.call_id}"`);
    expect(html).toContain('data-media="p2p"');
    expect(html).toContain('<script type="module" src="/assets/call-page.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| on\w+=/i); // nothing inline for the CSP to block
    expect(html).not.toContain("Mallory");
    expect(html).not.toContain("not-for-the-page");
  });

  it("answers an unknown or malformed call id with a 404 page, and an ended call with a 409 page", async () => {
    const unknown = await page(`/calls/${UNKNOWN_CALL}`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await unknown.text()).toContain("No such call");
    const malformed = await page(`/calls/${encodeURIComponent("<script>alert(1)</script>")}`);
    expect(malformed.status).toBe(404);
    expect(await malformed.text()).not.toContain("<script>alert");
    const c = await createCall();
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    const ended = await page(`/calls/${c.call_id}`);
    expect(ended.status).toBe(409);
    expect(await ended.text()).toContain("This call has ended");
  });

  it("says sfu when the server has Realtime credentials", async () => {
    const c = await createCall();
    const res = await callWith({ REALTIME_APP_ID: "app", REALTIME_APP_SECRET: "secret" }, `/calls/${c.call_id}`, { token: null });
    expect(await res.text()).toContain('data-media="sfu"');
  });

  it("names its script and style: the built client, served as static assets (revalidated, nosniff), not by the Worker", async () => {
    // What the platform serves at those paths before the Worker runs (wrangler.toml [assets],
    // headers from dist/client/_headers); `npm test` builds dist/client first.
    const asset = (path: string, headers?: HeadersInit) => env.ASSETS.fetch(new Request(`http://localhost:8787${path}`, { headers }));
    const js = await asset("/assets/call-page.js");
    expect(js.status, "dist/client/assets/call-page.js (npm test builds it first: npm run build:client)").toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("no-cache");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    const source = await js.text();
    // The esbuild bundle of src/calls/page/client/main.ts, not the hand-written string it replaced.
    expect(source).toContain("window.__call");
    expect(source).not.toContain("innerHTML");
    expect(source).not.toContain("src/calls/page/page-script.ts");
    expect(source.trimEnd().endsWith("//# sourceMappingURL=call-page.js.map")).toBe(true);
    const map = (await (await asset("/assets/call-page.js.map")).json()) as { sources: string[] };
    for (const module of ["main", "p2p-mesh", "sfu-transport", "signalling"])
      expect(map.sources).toContain(`../../../src/calls/page/client/${module}.ts`);
    // Types only from the server's modules (the wire format): no server code in the page.
    expect(map.sources.filter((s) => !s.startsWith("../../../src/calls/page/client/"))).toEqual([]);
    // Revalidated on every load: the ETag answers 304 while the bundle is unchanged.
    const etag = js.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    expect((await asset("/assets/call-page.js", { "If-None-Match": etag })).status).toBe(304);
    const css = await asset("/assets/call-page.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await css.text()).toContain("#participants li");
    // The Worker no longer has routes for them (only a missing build would reach it).
    expect((await page("/assets/call-page.js")).status).toBe(404);
    expect((await page("/assets/call-page.css")).status).toBe(404);
  });
});

describe("GET /api/v2/calls/{call_id}/transcript with a join token (what the page loads)", () => {
  it("reads with a participant's token, refuses forged, foreign and departed tokens, and still needs state:read otherwise", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "Alice");
    const path = `/api/v2/calls/${c.call_id}/transcript`;
    expect(await json(await page(`${path}?token=${encodeURIComponent(alice.join_token)}`))).toEqual({ call_id: c.call_id, transcript: [] });
    await problem(await page(`${path}?token=forged`), 401);
    await problem(await page(path), 401);
    const other = await createCall();
    await problem(await page(`/api/v2/calls/${other.call_id}/transcript?token=${encodeURIComponent(alice.join_token)}`), 403);
    await call(`/api/v2/calls/${c.call_id}/participants/${alice.participant.participant_id}`, { method: "DELETE" });
    await problem(await page(`${path}?token=${encodeURIComponent(alice.join_token)}`), 403);
    expect((await call(path)).status).toBe(200);
  });
});
