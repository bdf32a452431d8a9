/**
 * The answering agent end to end (docs/voice.md#the-answering-agent): a real `wrangler dev --local`
 * whose LLM_BASE_URL and SPEECH_BASE_URL point at one loopback fake of the OpenAI-compatible
 * contracts (scripts/lib/voice-fakes.mjs: every request checked; speech is real audio from
 * Debian's espeak-ng, which this test needs: `apt-get install -y espeak-ng`). Alice's utterance
 * goes in through POST …/transcribe (an espeak WAV) or as live audio on her socket; Bob's socket
 * is the page that hears the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVoiceCall, toneFrames } from "../../scripts/lib/voice-call.mjs";
import { espeakWav, startVoiceFakes, wavInfo } from "../../scripts/lib/voice-fakes.mjs";
import { client, eventually, mintJwt } from "./helpers/http";
import { startLocalServer, type LocalServer } from "./helpers/local-server";

const AGENT = "agent-e2e-voice";
const OTHER = "agent-e2e-other";
const INSTRUCTIONS = "You help the release team. Dana approves releases; her address is dana@example.com.";

let server: LocalServer;
let fakes: Awaited<ReturnType<typeof startVoiceFakes>>;
let token: string;

beforeAll(async () => {
  fakes = await startVoiceFakes();
  server = await startLocalServer({ vars: { LLM_BASE_URL: fakes.url, LLM_MODEL: "fake-llm", SPEECH_BASE_URL: fakes.url } });
  token = await mintJwt(server.jwtSecret, { sub: "e2e-voice", role: "developer" });
});

afterAll(async () => {
  await server?.dispose();
  await fakes?.close();
});

const callOf = (agent: Record<string, unknown> = {}, agentId = AGENT) =>
  startVoiceCall({ baseUrl: server.baseUrl, token, agentId, agent: { mode: "auto", instructions: INSTRUCTIONS, ...agent } });

function decoded(base64: string) {
  return wavInfo(new Uint8Array(Buffer.from(base64, "base64")));
}

describe("/health", () => {
  it("says the agent can answer, naming the model", async () => {
    const health = await client(server.baseUrl, token).get("/health");
    expect(health.body.checks.answering_agent).toEqual({
      ok: true,
      detail: "answers with openai-compatible (fake-llm), spoken through openai-compatible",
    });
  });
});

describe("auto mode", () => {
  it("answers a transcribed utterance with spoken sentences (real audio) and transcript lines", async () => {
    fakes.setSttText("When is the release?");
    fakes.setLlm(() => ({ pieces: [{ content: "Sure" }, { content: ", the release is on Friday. " }, { content: "Anything else?" }] }));
    const before = fakes.requests.length;
    const call = await callOf();
    try {
      const heard = await call.transcribe(espeakWav("When is the release?"));
      expect(heard.status).toBe(200);
      const first = (await call.bobSocket.next("agent_speech")).frame;
      const second = (await call.bobSocket.next("agent_speech")).frame;
      for (const [frame, text] of [
        [first, "Sure, the release is on Friday."],
        [second, "Anything else?"],
      ] as const) {
        expect(frame).toMatchObject({ participant_id: call.bot, text, content_type: "audio/wav" });
        const info = decoded(frame.audio);
        expect(info).toMatchObject({ channels: 1, bits: 16 });
        expect(info!.seconds).toBeGreaterThan(0.5);
      }
      const lines = await call.transcript();
      expect(lines.map((l) => [l.participant_id, l.source, l.text])).toEqual([
        [call.alice, "speech_to_text", "When is the release?"],
        [call.bot, "text_to_speech", "Sure, the release is on Friday."],
        [call.bot, "text_to_speech", "Anything else?"],
      ]);
      // What the providers were asked, in order: the utterance's audio, the model, the two sentences.
      const asked = fakes.requests.slice(before);
      expect(asked.map((r) => r.kind)).toEqual(["stt", "llm", "tts", "tts"]);
      expect(asked[0]!.audioSeconds).toBeGreaterThan(0.5);
      const llm = asked[1]!.body;
      expect(llm).toMatchObject({ model: "fake-llm", stream: true });
      expect(llm.messages[0].content).toContain(INSTRUCTIONS);
      expect(llm.messages.at(-1)).toEqual({ role: "user", content: "Alice: When is the release?" });
      // Both sentences are synthesized at once (their requests may arrive in either order); they are sent in order.
      expect(
        asked
          .slice(2)
          .map((r) => r.body.input)
          .sort(),
      ).toEqual(["Anything else?", "Sure, the release is on Friday."]);
      expect(fakes.errors).toEqual([]);
    } finally {
      call.close();
    }
  });

  it("stops when a participant starts talking (live audio): the stream is cancelled, the pages told, the rest dropped", async () => {
    fakes.setLlm((_body, index) =>
      index === 0
        ? { pieces: [{ content: "First I will explain the plan. " }, { content: "Then" }], hold: true }
        : { pieces: [{ content: "Okay." }] },
    );
    const before = fakes.requests.length;
    const call = await callOf();
    try {
      fakes.setSttText("Tell me the plan.");
      expect((await call.transcribe(espeakWav("Tell me the plan."))).status).toBe(200);
      expect((await call.bobSocket.next("agent_speech")).frame.text).toBe("First I will explain the plan.");
      fakes.setSttText("Wait a moment.");
      // Alice talks over the agent, then is quiet: 100 ms frames at the pace of a microphone.
      for (const frame of [...toneFrames(600), ...toneFrames(900, 0)]) {
        call.aliceSocket.ws.send(frame);
        await new Promise((r) => setTimeout(r, 100));
      }
      const stop = (await call.bobSocket.next("agent_speech_stop")).frame;
      expect(stop).toMatchObject({ reason: "barge_in", participant_id: call.alice });
      const stream = fakes.requests.slice(before).find((r) => r.kind === "llm")!;
      expect(await eventually(async () => stream.closedEarly === true, 10_000, 50)).toBe(true);
      // Nothing of the unspoken rest reached a page or the transcript.
      const lines = await call.transcript();
      expect(lines.slice(0, 3).map((l) => [l.source, l.text])).toEqual([
        ["speech_to_text", "Tell me the plan."],
        ["text_to_speech", "First I will explain the plan."],
        ["agent_event", "Stopped speaking: a participant started talking (1 sentence(s) spoken)."],
      ]);
      expect(lines.some((l) => l.text.includes("Then"))).toBe(false);
      expect(call.bobSocket.all("agent_speech").some((f) => String(f.text).includes("Then"))).toBe(false);
      // Alice's interruption is itself an utterance (live transcription) that the agent answers.
      expect(await eventually(async () => (await call.transcript()).some((l) => l.text === "Okay."), 15_000)).toBe(true);
      expect(fakes.errors).toEqual([]);
    } finally {
      call.close();
    }
  });
});

describe("on_request mode", () => {
  it("answers only an utterance that names the agent, or when asked through POST …/agent/respond", async () => {
    fakes.setLlm(() => ({ pieces: [{ content: "Here is what I know." }] }));
    const call = await callOf({ mode: "on_request", name: "Nova" });
    try {
      fakes.setSttText("Let us look at the plan.");
      const before = fakes.requests.length;
      expect((await call.transcribe(espeakWav("Let us look at the plan."))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1000));
      expect(fakes.requests.slice(before).map((r) => r.kind)).toEqual(["stt"]);
      expect(call.bobSocket.all("agent_speech")).toEqual([]);
      // The explicit request: the agent answers the latest line now.
      const asked = await client(server.baseUrl, token).post(`/api/v2/calls/${call.callId}/agent/respond`, {});
      expect(asked.status).toBe(202);
      expect(asked.body).toEqual({ accepted: true, answering: { participant_id: call.alice, text: "Let us look at the plan." } });
      expect((await call.bobSocket.next("agent_speech")).frame.text).toBe("Here is what I know.");
      // An utterance naming it is answered by itself.
      fakes.setSttText("Nova, are you still there?");
      expect((await call.transcribe(espeakWav("Nova, are you still there?"))).status).toBe(200);
      expect((await call.bobSocket.next("agent_speech")).frame.text).toBe("Here is what I know.");
      expect(fakes.errors).toEqual([]);
    } finally {
      call.close();
    }
  });
});

describe("tools", () => {
  it("'ask Dana to approve the release' creates an approval for the call's agent that another agent's credential cannot touch", async () => {
    fakes.setSttText("Please ask Dana to approve the release.");
    fakes.setLlm((body, index) =>
      index % 2 === 0
        ? {
            pieces: [
              {
                tool: {
                  id: "call_approve",
                  name: "request_approval",
                  arguments: { title: "Release 3.1", description: "Alice asked for it in the call.", approver_email: "dana@example.com" },
                },
              },
            ],
          }
        : { pieces: [{ content: body.messages.at(-1).role === "tool" ? "I asked Dana to approve it." : "Hmm." }] },
    );
    const call = await callOf();
    try {
      expect((await call.transcribe(espeakWav("Please ask Dana to approve the release."))).status).toBe(200);
      expect((await call.bobSocket.next("agent_speech")).frame.text).toBe("I asked Dana to approve it.");
      const event = (await call.transcript()).find((l) => l.source === "agent_event");
      const approvalId = /requested approval (approval_[0-9a-f]+) from dana@example\.com/.exec(event?.text ?? "")?.[1];
      expect(approvalId).toBeDefined();
      const own = await mintJwt(server.jwtSecret, { sub: "own", role: "developer", agents: [AGENT] });
      const other = await mintJwt(server.jwtSecret, { sub: "other", role: "developer", agents: [OTHER] });
      const read = await client(server.baseUrl, own).get(`/api/v2/email/approval/${approvalId}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ agent_id: AGENT, approver_email: "dana@example.com", title: "Release 3.1", status: "pending" });
      const refused = await client(server.baseUrl, other).get(`/api/v2/email/approval/${approvalId}`);
      expect(refused.status).toBe(403);
      const decided = await client(server.baseUrl, other).post(`/api/v2/email/approval/${approvalId}/respond`, { action: "approve" });
      expect(decided.status).toBe(403);
      expect((await client(server.baseUrl, own).get(`/api/v2/email/approval/${approvalId}`)).body.status).toBe("pending");
      expect(fakes.errors).toEqual([]);
    } finally {
      call.close();
    }
  });
});
