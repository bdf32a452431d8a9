/**
 * What the Worker under the self-hosted server may connect to (scripts/selfhost/outbound-network.mjs):
 * workerd's compiled config with an explicit "internet" network, run by the workerd binary the
 * server runs. A probe Worker fetches and opens TCP sockets to servers of this test on loopback;
 * loopback is refused unless OUTBOUND_PRIVATE_NETWORKS opens it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createRequire } from "node:module";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, freePort, waitForAnswer } from "../../scripts/lib/local-server.mjs";
import { outboundAllowList, withInternetService } from "../../scripts/selfhost/outbound-network.mjs";

const workerd: string = createRequire(join(PROJECT_ROOT, "package.json"))("workerd").default;
const dir = mkdtempSync(join(tmpdir(), "selfhost-outbound-"));
let httpServer: HttpServer;
let tcpServer: NetServer;
let compiled: Buffer;
const running: ChildProcess[] = [];

const PROBE = `
import { connect } from "cloudflare:sockets";
export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/http") {
        const res = await fetch(url.searchParams.get("to"));
        return new Response("reached " + (await res.text()));
      }
      const socket = connect(url.searchParams.get("to"));
      const reader = socket.readable.getReader();
      const { value } = await reader.read();
      await socket.close();
      return new Response("reached " + new TextDecoder().decode(value));
    } catch (err) {
      return new Response("refused: " + err.message, { status: 502 });
    }
  },
};
`;

function listen(server: NetServer | HttpServer): Promise<number> {
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done((server.address() as AddressInfo).port)));
}

/** Serves the probe with `allow` as the internet network's allow list; its base URL. */
async function serveProbe(allow: string[]): Promise<string> {
  const config = join(dir, `probe-${running.length}.bin`);
  writeFileSync(config, withInternetService(compiled, allow));
  const port = await freePort();
  const child = spawn(workerd, ["serve", "--binary", "--experimental", config, `--socket-addr=http=127.0.0.1:${port}`], {
    stdio: "ignore",
  });
  running.push(child);
  const base = `http://127.0.0.1:${port}`;
  const answer = await waitForAnswer(`${base}/http?to=http://127.0.0.1:1/`, {
    timeoutMs: 30_000,
    accept: (res: Response) => res.status === 200 || res.status === 502,
  });
  if (!answer.ready) throw new Error(`the probe did not start: ${answer.last}`);
  return base;
}

async function probe(base: string, kind: "http" | "tcp", to: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/${kind}?to=${encodeURIComponent(to)}`);
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  httpServer = createHttpServer((_req, res) => res.end("http-ok"));
  tcpServer = createNetServer((socket) => socket.end("tcp-ok"));
  await Promise.all([listen(httpServer), listen(tcpServer)]);
  writeFileSync(join(dir, "probe.js"), PROBE);
  writeFileSync(
    join(dir, "wrangler.json"),
    JSON.stringify({ name: "probe", main: join(dir, "probe.js"), compatibility_date: "2026-11-01", no_bundle: true }),
  );
  const result = spawnSync(workerd, ["compile", "--config-only", join(dir, "wrangler.json")], { maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`workerd compile failed: ${result.stderr}`);
  compiled = result.stdout;
}, 60_000);

afterAll(async () => {
  for (const child of running) child.kill("SIGKILL");
  await Promise.all([new Promise((r) => httpServer.close(r)), new Promise((r) => tcpServer.close(r))]);
  rmSync(dir, { recursive: true, force: true });
});

describe("OUTBOUND_PRIVATE_NETWORKS", () => {
  it("accepts private, local and CIDR ranges, always after public, and names an entry it cannot read", () => {
    expect(outboundAllowList(undefined)).toEqual(["public"]);
    expect(outboundAllowList(" ")).toEqual(["public"]);
    expect(outboundAllowList(" private, 10.0.5.0/24 ,local,fd00::/8,10.0.5.0/24")).toEqual([
      "public",
      "private",
      "10.0.5.0/24",
      "local",
      "fd00::/8",
    ]);
    for (const bad of ["10.0.0.1", "300.0.0.0/8", "10.0.0.0/33", "everything", "fd00::/200", "mailpit"])
      expect(() => outboundAllowList(`local,${bad}`)).toThrow(`"${bad}" is not "private", "local" or a CIDR range`);
  });
});

describe("the compiled config's internet network", () => {
  it("keeps workerd's default without an opening: loopback refused for fetch and sockets", async () => {
    const base = await serveProbe(outboundAllowList(""));
    const http = await probe(base, "http", `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`);
    expect(http.status).toBe(502);
    expect(http.text).toContain("refused");
    expect((await probe(base, "tcp", `127.0.0.1:${(tcpServer.address() as AddressInfo).port}`)).status).toBe(502);
  });

  it("reaches what OUTBOUND_PRIVATE_NETWORKS opens, over fetch and TCP sockets, and nothing else", async () => {
    const base = await serveProbe(outboundAllowList("127.0.0.1/32"));
    expect(await probe(base, "http", `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`)).toEqual({
      status: 200,
      text: "reached http-ok",
    });
    expect(await probe(base, "tcp", `127.0.0.1:${(tcpServer.address() as AddressInfo).port}`)).toEqual({
      status: 200,
      text: "reached tcp-ok",
    });
    const other = await serveProbe(outboundAllowList("10.0.0.0/8"));
    expect((await probe(other, "http", `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/`)).status).toBe(502);
  });

  it("refuses to add a second internet service", () => {
    const once = withInternetService(compiled, ["public"]);
    expect(() => withInternetService(once, ["public"])).toThrow('already defines an "internet" service');
  });
});
