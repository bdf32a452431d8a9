/**
 * The browser call check, run by test/e2e/call-page-browser.test.ts inside a loopback-only network
 * namespace (`unshare -rn bash -c 'ip link set lo up && exec node call-runner.ts'`), so every packet
 * (HTTP, WebSocket, ICE, RTP) stays on 127.0.0.1. Runs under plain Node 22 (type stripping).
 *
 * It starts a fake OpenAI-compatible speech server and a real `wrangler dev --local` pointed at it
 * (SPEECH_BASE_URL), checks the page's HTTP answers, then drives two headless Chromium pages
 * (fake microphone and camera) through a real peer-to-peer call, makes the agent speak, and prints
 * one JSON report on stdout (progress goes to stderr). It asserts nothing itself: the test does.
 */
import { type Browser, type Page } from "playwright-core";
import { api, launchChromium, openCallPage, progress, recordFailure, runAndPrint, sleep, until } from "./runner-kit.ts";
import { startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { startFakeSpeech, type FakeSpeech } from "./fake-speech.ts";

const ICE_TIMEOUT_MS = 20_000;
const MEDIA_TIMEOUT_MS = 20_000;
const SPEECH_SECONDS = 0.6;
export const XSS_NAME = `<img src=x onerror="window.__xss=1">Bob & "friends"`;

const { timings, mark } = progress("call-runner");

interface Http {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function get(url: string): Promise<Http> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

/** What a page exposes on `window.__call`, copied out as plain JSON. */
function snapshot(page: Page): Promise<any> {
  return page.evaluate(async () => {
    const c = (globalThis as any).__call;
    const doc = (globalThis as any).document;
    const names = [...doc.querySelectorAll("#participants li")].map((li: any) => ({
      id: li.dataset.participantId,
      name: li.querySelector(".name").textContent,
      tags: [...li.querySelectorAll(".tag")].map((t: any) => t.textContent),
    }));
    return {
      phase: c.state.phase,
      me: c.state.me,
      participants: Object.fromEntries(
        [...c.state.participants].map(([id, p]: [string, any]) => [
          id,
          { is_muted: p.is_muted, is_video_enabled: p.is_video_enabled, connected: p.connected },
        ]),
      ),
      stats: await c.stats(),
      played: c.played,
      errors: c.errors,
      events: c.events.map((e: any) => e.name),
      rendered: names,
      transcript: [...doc.querySelectorAll("#transcript li")].map((li: any) => li.textContent),
      agentSpeech: doc.getElementById("agent-speech").textContent,
      imgs: doc.querySelectorAll("#participants img, #transcript img, #media figcaption img").length,
      xss: (globalThis as any).__xss ?? null,
      status: doc.getElementById("status").textContent,
    };
  });
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let speech: FakeSpeech | undefined;
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  try {
    speech = await startFakeSpeech({ durationSeconds: SPEECH_SECONDS });
    server = await startLocalServer({ vars: { SPEECH_BASE_URL: speech.baseUrl } });
    mark("wrangler_ready");
    const call = api(server);
    const base = server.baseUrl;

    // ---- the page over plain HTTP ----
    const created = await call("POST", "/api/v2/calls", { agent_id: "agent-browser-test", video_enabled: true });
    const callId: string = created.call_id;
    const ended = await call("POST", "/api/v2/calls", { agent_id: "agent-browser-test" });
    await call("POST", `/api/v2/calls/${ended.call_id}/end`);
    const pageHttp = await get(`${base}/calls/${callId}`);
    const script = await get(`${base}/assets/call-page.js`);
    const style = await get(`${base}/assets/call-page.css`);
    report.http = {
      page: {
        status: pageHttp.status,
        headers: pageHttp.headers,
        hasJoin: pageHttp.text.includes('id="join"'),
        scriptTag: pageHttp.text.includes('<script type="module" src="/assets/call-page.js">'),
      },
      script: { status: script.status, contentType: script.headers["content-type"], bytes: script.text.length },
      style: { status: style.status, contentType: style.headers["content-type"] },
      unknown: await get(`${base}/calls/call_ffffffffffffffffffffffff`).then((r) => ({
        status: r.status,
        contentType: r.headers["content-type"],
        csp: r.headers["content-security-policy"],
        text: r.text,
      })),
      malformed: await get(`${base}/calls/${encodeURIComponent("<script>x</script>")}`).then((r) => ({
        status: r.status,
        contentType: r.headers["content-type"],
        echoes: r.text.includes("<script>x"),
      })),
      ended: await get(`${base}/calls/${ended.call_id}`).then((r) => ({
        status: r.status,
        contentType: r.headers["content-type"],
        text: r.text,
      })),
    };

    // ---- the call: an agent participant (never connects), Alice and a "Bob" with an HTML-ish name ----
    const agent = await call("POST", `/api/v2/calls/${callId}/participants`, {
      user_id: "agent",
      display_name: "Agent Smith",
      is_agent: true,
    });
    const alice = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "alice", display_name: "Alice" });
    const bob = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "bob", display_name: XSS_NAME });
    await call("POST", `/api/v2/calls/${callId}/start`);
    // A line spoken before anyone joins: the pages must load it.
    await call("POST", `/api/v2/calls/${callId}/speak`, { text: "Welcome, this line was spoken before you joined." });
    report.ids = {
      call: callId,
      agent: agent.participant.participant_id,
      alice: alice.participant.participant_id,
      bob: bob.participant.participant_id,
    };
    mark("call_prepared");

    browser = await launchChromium();
    mark("browser_launched");
    const pageErrors: string[] = [];
    const open = async (token: string) => {
      const { page } = await openCallPage(browser!, `${base}/calls/${callId}?token=${encodeURIComponent(token)}`, pageErrors);
      pages.push(page);
      return page;
    };
    const [pa, pb] = await Promise.all([open(alice.join_token), open(bob.join_token)]);
    await Promise.all([pa.click("#join"), pb.click("#join")]);
    mark("joined_clicked");

    // ---- ICE connected on both sides ----
    const peerState = async (page: Page) => Object.values((await snapshot(page)).stats) as any[];
    await until("both peer connections to be connected", ICE_TIMEOUT_MS, async () => {
      const [a, b] = await Promise.all([peerState(pa), peerState(pb)]);
      return a.length === 1 && b.length === 1 && a[0].connectionState === "connected" && b[0].connectionState === "connected";
    });
    mark("ice_connected");

    // ---- media flows: inbound audio packets rising, video frames decoded, audio energy ----
    const audioPackets = async (page: Page) => ((await peerState(page))[0]?.audio?.packetsReceived as number | undefined) ?? 0;
    await until(
      "first inbound audio packets on both pages",
      MEDIA_TIMEOUT_MS,
      async () => (await audioPackets(pa)) > 0 && (await audioPackets(pb)) > 0,
    );
    const first = { alice: await snapshot(pa), bob: await snapshot(pb) };
    const statsOf = (snap: any) => Object.values(snap.stats)[0] as any;
    await sleep(1_000);
    const before = [statsOf(first.alice)?.audio?.packetsReceived ?? 0, statsOf(first.bob)?.audio?.packetsReceived ?? 0];
    await until("rising audio packets, audio energy and decoded video on both pages", MEDIA_TIMEOUT_MS, async () => {
      const both = await Promise.all([peerState(pa), peerState(pb)]);
      return both.every(
        (s, i) => s[0]?.audio?.packetsReceived > before[i]! && s[0]?.audio?.totalAudioEnergy > 0 && s[0]?.video?.framesDecoded > 0,
      );
    });
    const second = { alice: await snapshot(pa), bob: await snapshot(pb) };
    mark("media_flowing");
    report.media = {
      alice: { first: statsOf(first.alice), second: statsOf(second.alice) },
      bob: { first: statsOf(first.bob), second: statsOf(second.bob) },
    };

    // ---- mute is seen by the other page and by the API ----
    await pa.click("#mute");
    const aliceId = alice.participant.participant_id;
    await until("Bob's page to show Alice muted", 10_000, async () => (await snapshot(pb)).participants[aliceId]?.is_muted === true);
    const apiView = await call("GET", `/api/v2/calls/${callId}`);
    report.mute = {
      bobSeesAliceMuted: true,
      apiSaysMuted: apiView.participants.find((p: any) => p.participant_id === aliceId)?.is_muted,
      aliceButton: await pa.textContent("#mute"),
      aliceTrackEnabled: await pa.evaluate(
        () => (globalThis as any).document.getElementById("local-video").srcObject.getAudioTracks()[0].enabled,
      ),
    };

    // ---- Bob turns his camera off: Alice's page shows it ----
    const bobId = bob.participant.participant_id;
    await pb.click("#camera");
    await until(
      "Alice's page to show Bob's video off",
      10_000,
      async () => (await snapshot(pa)).participants[bobId]?.is_video_enabled === false,
    );
    report.camera = { aliceSeesBobVideoOff: true, bobButton: await pb.textContent("#camera") };

    // ---- the agent speaks: both pages decode and play it ----
    const spoke = await call("POST", `/api/v2/calls/${callId}/speak`, { text: "Hello from the agent." });
    mark("speak_sent");
    await until("both pages to finish playing the agent's speech", 10_000, async () => {
      const [a, b] = await Promise.all([snapshot(pa), snapshot(pb)]);
      return [a, b].every((s) => s.played.some((p: any) => p.text === "Hello from the agent." && p.ended));
    });
    mark("speech_played");
    report.speak = { response: spoke, requests: speech.requests };

    const final = { alice: await snapshot(pa), bob: await snapshot(pb) };
    report.pages = final;

    // ---- erasing the transcript: both pages clear what they show ----
    const cleared = await call("DELETE", `/api/v2/calls/${callId}/transcript`);
    await until("both pages to clear their transcript", 10_000, async () => {
      const [a, b] = await Promise.all([snapshot(pa), snapshot(pb)]);
      return a.transcript.length === 0 && b.transcript.length === 0;
    });
    report.cleared = { response: cleared };

    // ---- leaving: the other side drops the peer ----
    await pa.click("#leave");
    await until("Bob's page to drop Alice, and Alice's page to say she left", 10_000, async () => {
      const [a, b] = await Promise.all([snapshot(pa), snapshot(pb)]);
      return a.phase === "left" && Object.keys(b.stats).length === 0 && !b.rendered.some((r: any) => r.id === aliceId);
    });
    report.afterLeave = { alice: await snapshot(pa), bob: await snapshot(pb) };
    mark("left");
    report.pageErrors = pageErrors;
    report.ok = true;
  } catch (err) {
    await recordFailure(report, err, server, pages);
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
    await speech?.close().catch(() => undefined);
    mark("done");
  }
  return report;
}

await runAndPrint(main);
