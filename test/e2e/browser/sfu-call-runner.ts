/**
 * The SFU-mode browser call, run by test/e2e/call-page-sfu-browser.test.ts inside a loopback-only
 * network namespace (`unshare -rn bash -c 'ip link set lo up && exec node sfu-call-runner.ts'`), so
 * every packet stays on 127.0.0.1. Runs under plain Node 22 (type stripping).
 *
 * One headless Chromium holds three pages: the fake SFU's relay page (test/e2e/browser/media-sfu.ts,
 * a real media relay behind a Node server speaking the SFU Connection API) and two call pages. A
 * real `wrangler dev --local` runs in SFU mode (REALTIME_APP_ID, REALTIME_APP_SECRET and
 * REALTIME_API_BASE_URL pointing at the fake), so the pages negotiate through the Worker's proxy
 * and their media goes page → relay → page. The runner prints one JSON report on stdout (progress
 * on stderr) and asserts nothing itself: the test does.
 */
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { api, launchChromium, openCallPage, progress, recordFailure, runAndPrint, sleep, until } from "./runner-kit.ts";
import { startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { startMediaSfu, type MediaSfu } from "./media-sfu.ts";

const MEDIA_TIMEOUT_MS = 20_000;

const { timings, mark } = progress("sfu-call-runner");

/** Counts every RTCPeerConnection the page creates (before any of its scripts run). */
function countPeerConnections(): void {
  const g = globalThis as any;
  const Native = g.RTCPeerConnection;
  g.__pcsCreated = [];
  g.RTCPeerConnection = class extends Native {
    constructor(...args: unknown[]) {
      super(...args);
      g.__pcsCreated.push(this);
    }
  };
}

/** What a call page exposes, copied out as plain JSON. */
function snapshot(page: Page): Promise<any> {
  return page.evaluate(async () => {
    const g = globalThis as any;
    const c = g.__call;
    const doc = g.document;
    const stats = await c.stats();
    return {
      phase: c.state.phase,
      me: c.state.me,
      mediaMode: c.mediaMode,
      stats,
      sfu: stats.sfu ?? null,
      pcsCreated: g.__pcsCreated.map((pc: any) => ({ connectionState: pc.connectionState })),
      negotiations: c.sfu ? c.sfu.negotiations : [],
      errors: c.errors,
      events: c.events.map((e: any) => e.name),
      tiles: [...doc.querySelectorAll(".tile[data-peer]")].map((t: any) => ({
        peer: t.dataset.peer,
        audio: !!t.querySelector("audio").srcObject,
        audioPlaying: !t.querySelector("audio").paused,
        video: !!t.querySelector("video").srcObject,
      })),
      notice: doc.getElementById("notice").hidden ? null : doc.getElementById("notice").textContent,
      status: doc.getElementById("status").textContent,
    };
  });
}

const inboundOf = (snap: any, kind: "audio" | "video") => (snap.sfu?.inbound ?? []).filter((i: any) => i.kind === kind && i.peer);

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let sfu: MediaSfu | undefined;
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  const contexts: BrowserContext[] = [];
  try {
    browser = await launchChromium();
    mark("browser_launched");
    sfu = await startMediaSfu(browser);
    mark("fake_sfu_ready");
    server = await startLocalServer({
      vars: { REALTIME_APP_ID: sfu.appId, REALTIME_APP_SECRET: sfu.secret, REALTIME_API_BASE_URL: sfu.apiBaseUrl },
    });
    mark("wrangler_ready");
    const call = api(server);
    const base = server.baseUrl;

    const created = await call("POST", "/api/v2/calls", { agent_id: "agent-sfu-browser-test", video_enabled: true });
    const callId: string = created.call_id;
    const alice = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "alice", display_name: "Alice" });
    const bob = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "bob", display_name: "Bob" });
    await call("POST", `/api/v2/calls/${callId}/start`);
    const aliceId: string = alice.participant.participant_id;
    const bobId: string = bob.participant.participant_id;
    report.ids = { call: callId, alice: aliceId, bob: bobId };
    mark("call_prepared");

    const pageErrors: string[] = [];
    const open = async (token: string) => {
      const { page, context } = await openCallPage(
        browser!,
        `${base}/calls/${callId}?token=${encodeURIComponent(token)}`,
        pageErrors,
        countPeerConnections,
      );
      contexts.push(context);
      pages.push(page);
      return page;
    };
    const [pa, pb] = await Promise.all([open(alice.join_token), open(bob.join_token)]);
    report.pageMode = { alice: await pa.getAttribute("#app", "data-media"), bob: await pb.getAttribute("#app", "data-media") };
    // Alice first: once she has published, Bob joins and finds her tracks in the roster (and she
    // learns of his from track_published), so both ways of discovering a track are exercised.
    await pa.click("#join");
    await until(
      "Alice's page to publish its microphone and camera",
      MEDIA_TIMEOUT_MS,
      async () => (await snapshot(pa)).sfu?.published.length === 2,
    );
    mark("alice_published");
    await pb.click("#join");
    mark("bob_joined_clicked");

    // ---- both pages connected to the SFU, each pulling the other's audio and video ----
    await until("both pages connected to the SFU and pulling the other's two tracks", MEDIA_TIMEOUT_MS, async () => {
      const both = await Promise.all([snapshot(pa), snapshot(pb)]);
      return both.every((s) => s.sfu?.connectionState === "connected" && s.sfu.pulled.filter((p: any) => p.state === "open").length === 2);
    });
    mark("sfu_connected");

    // ---- media flows through the relay: inbound audio packets rising, energy, decoded video ----
    const audioPackets = (snap: any) => inboundOf(snap, "audio").reduce((n: number, i: any) => n + (i.packetsReceived ?? 0), 0);
    await until("first relayed audio packets on both pages", MEDIA_TIMEOUT_MS, async () => {
      const both = await Promise.all([snapshot(pa), snapshot(pb)]);
      return both.every((s) => audioPackets(s) > 0);
    });
    const first = { alice: await snapshot(pa), bob: await snapshot(pb) };
    await sleep(1_000);
    await until("rising audio packets, audio energy and decoded video on both pages", MEDIA_TIMEOUT_MS, async () => {
      const both = await Promise.all([snapshot(pa), snapshot(pb)]);
      return both.every(
        (s, i) =>
          audioPackets(s) > audioPackets(i === 0 ? first.alice : first.bob) &&
          inboundOf(s, "audio").some((a: any) => a.totalAudioEnergy > 0) &&
          inboundOf(s, "video").some((v: any) => v.framesDecoded > 0),
      );
    });
    const second = { alice: await snapshot(pa), bob: await snapshot(pb) };
    mark("media_flowing");
    report.media = { first, second };
    report.relay = { stats: await sfu.relayStats(), sessions: sfu.sessions(), log: await sfu.relayLog() };
    report.apiView = await call("GET", `/api/v2/calls/${callId}`);

    // ---- Alice leaves: her tracks are closed at the SFU, Bob stops pulling them ----
    await pa.click("#leave");
    // Everything the test asserts about the leave, pages and servers alike: the pages can get
    // there before the last close request or the API's view of the leave has landed.
    const aliceSession = second.alice.sfu.sessionId;
    const bobSession = second.bob.sfu.sessionId;
    const media: MediaSfu = sfu;
    await until(
      "Alice's page to say she left, Bob's page to stop pulling her tracks, and the SFU and API to show both",
      10_000,
      async () => {
        const [a, b] = await Promise.all([snapshot(pa), snapshot(pb)]);
        if (!(a.phase === "left" && b.sfu?.pulled.length === 0 && !b.tiles.some((t: any) => t.peer === aliceId))) return false;
        const closed = (session: string) =>
          media.requests.filter((r: any) => r.path === `/sessions/${session}/tracks/close` && r.status === 200).length;
        if (closed(aliceSession) < 1 || closed(bobSession) < 2 || (media.sessions()[aliceSession]?.tracks.length ?? 0) > 0) return false;
        const view = await call("GET", `/api/v2/calls/${callId}`);
        const alice = view.participants.find((p: any) => p.participant_id === aliceId);
        return alice?.left_at != null && alice.media_streams.length === 0;
      },
    );
    mark("left");
    report.afterLeave = {
      alice: await snapshot(pa),
      bob: await snapshot(pb),
      apiView: await call("GET", `/api/v2/calls/${callId}`),
      sessions: sfu.sessions(),
      relay: await sfu.relayStats(),
    };
    report.sfuRequests = sfu.requests;
    report.violations = sfu.violations;
    report.pageErrors = pageErrors;
    report.ok = true;
  } catch (err) {
    await recordFailure(report, err, server, pages, {
      sfuRequests: sfu?.requests,
      violations: sfu?.violations,
      relay: await sfu?.relayStats().catch((e: unknown) => String(e)),
      relayLog: await sfu?.relayLog().catch((e: unknown) => String(e)),
    });
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
    await sfu?.close().catch(() => undefined);
    mark("done");
  }
  return report;
}

await runAndPrint(main);
