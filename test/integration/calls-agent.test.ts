/**
 * The answering agent of a call (docs/voice.md#the-answering-agent): its settings on the call,
 * a spoken answer sentence by sentence, barge-in, tools limited to the call's agent, and silence
 * with a reason when no model is configured. The model and the speech server are fakes at their
 * HTTP boundary that check the documented requests (OpenAI-compatible `/v1/chat/completions` with
 * `stream: true` answered as SSE; `/v1/audio/speech`); the agent runs in the call's real object.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CallSessionDO } from "../../durable-objects/call-session";
import { AnsweringAgent } from "../../durable-objects/call-session/answering-agent";
import { runAgentTool } from "../../src/calls/agent-tools";
import type { TranscriptLine } from "../../src/calls/model";
import { OpenAiCompatibleLlm } from "../../src/llm/providers/openai-compatible";
import type { LlmSelection } from "../../src/llm/service";
import { OpenAiCompatibleSpeech, type SpeechSelection } from "../../src/speech/service";
import { call, callWith, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join, type Frame } from "../helpers/calls";

const AGENT = "agent-voice";
const OTHER = "agent-voice-other";

/** 0.25 s of a 440 Hz tone, 16 kHz mono PCM WAV: real audio the page could decode. */
function toneWav(seconds = 0.25): Uint8Array {
  const n = Math.round(16_000 * seconds);
  const out = new Uint8Array(44 + n * 2);
  const v = new DataView(out.buffer);
  const text = (at: number, s: string) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  v.setUint32(4, 36 + n * 2, true);
  text(8, "WAVEfmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, 16_000, true);
  v.setUint32(28, 32_000, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  text(36, "data");
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i++) v.setInt16(44 + i * 2, Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16_000)), true);
  return out;
}

type Chunk = Record<string, unknown>;
const text = (content: string): Chunk => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const stop = (reason = "stop"): Chunk => ({ choices: [{ index: 0, delta: {}, finish_reason: reason }] });
const toolCall = (id: string, name: string, args: unknown): Chunk => ({
  choices: [
    {
      index: 0,
      delta: { tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: JSON.stringify(args) } }] },
      finish_reason: null,
    },
  ],
});

/**
 * A fake OpenAI-compatible chat completions server: each request gets the next script's chunks as
 * SSE, then `data: [DONE]`; with `hold`, the stream stays open after its chunks until the client
 * aborts. Every request is checked against the documented shape.
 */
function fakeLlm(scripts: { chunks: Chunk[]; hold?: boolean }[]) {
  const requests: Record<string, any>[] = [];
  let aborted = 0;
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    expect(req.url).toBe("http://llm.test/v1/chat/completions");
    expect(req.method).toBe("POST");
    expect(req.headers.get("content-type")).toBe("application/json");
    const body = (await req.json()) as Record<string, any>;
    expect(body).toMatchObject({ model: expect.any(String), stream: true, messages: expect.any(Array) });
    for (const m of body.messages) expect(["system", "user", "assistant", "tool"]).toContain(m.role);
    requests.push(body);
    const script = scripts[requests.length - 1] ?? { chunks: [text("Nothing more."), stop()] };
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of script.chunks) c.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`));
        if (!script.hold) {
          c.enqueue(encoder.encode("data: [DONE]\n\n"));
          c.close();
        } else
          init?.signal?.addEventListener("abort", () => {
            aborted += 1;
            c.error(new DOMException("aborted", "AbortError"));
          });
      },
    });
    return new Response(stream, { headers: { "Content-Type": "text/event-stream" } });
  }) as typeof fetch;
  return {
    selection: (): LlmSelection => ({
      provider: new OpenAiCompatibleLlm({ baseUrl: "http://llm.test", model: "fake-model", fetch: fetchFn }),
    }),
    requests,
    aborted: () => aborted,
  };
}

/** A fake OpenAI-compatible speech server answering every `/v1/audio/speech` with a WAV. */
function fakeSpeech() {
  const inputs: string[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    expect(req.url).toBe("http://speech.test/v1/audio/speech");
    const body = (await req.json()) as { model: string; input: string; voice: string; response_format: string };
    expect(body).toMatchObject({ model: "tts-1", response_format: "mp3" });
    inputs.push(body.input);
    return new Response(toneWav(), { headers: { "Content-Type": "audio/wav" } });
  }) as typeof fetch;
  return {
    selection: (): SpeechSelection => ({ provider: new OpenAiCompatibleSpeech({ baseUrl: "http://speech.test", fetch: fetchFn }) }),
    inputs,
  };
}

async function transcript(callId: string): Promise<TranscriptLine[]> {
  return (await json<{ transcript: TranscriptLine[] }>(await call(`/api/v2/calls/${callId}/transcript`))).transcript;
}

/** A call in `mode` with Alice (a person), the agent's participant and Bob connected; returns ids and Bob's socket. */
async function callWithAgent(agent: Record<string, unknown> = { mode: "auto" }, agentId = AGENT) {
  const c = await createCall({
    agent_id: agentId,
    agent: { instructions: "You help the release team. Dana is dana@example.com.", ...agent },
  });
  const alice = await addParticipant(c.call_id, "Alice");
  const bot = await addParticipant(c.call_id, "Nova", { is_agent: true });
  const bob = await addParticipant(c.call_id, "Bob");
  const peer = await join(c.call_id, bob.join_token);
  await peer.next("roster");
  return {
    callId: c.call_id,
    alice: alice.participant.participant_id,
    bot: bot.participant.participant_id,
    bob: bob.participant.participant_id,
    peer,
  };
}

/**
 * Runs `act` against an AnsweringAgent inside the call's object, with the fakes as providers and
 * the object's own appendTranscript (which records and broadcasts), and waits for its turn to end.
 * Other frames the agent broadcasts are returned.
 */
async function withAgent(
  callId: string,
  providers: { llm: () => LlmSelection; speech: () => SpeechSelection },
  act: (agent: AnsweringAgent, instance: CallSessionDO) => Promise<void>,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  const stub = env.CALL_SESSION.getByName(callId);
  await runInDurableObject(stub, async (instance: CallSessionDO, state) => {
    const agent = new AnsweringAgent({
      env,
      storage: state.storage,
      waitUntil: () => {},
      append: (line, speech) => instance.appendTranscript(line, speech),
      broadcast: (frame) => frames.push(frame as Frame),
      ...providers,
    });
    await act(agent, instance);
    await vi.waitFor(() => expect(agent.busy()).toBe(false), { timeout: 10_000, interval: 10 });
  });
  return frames;
}

const utterance = (participantId: string, said: string) => ({
  participant_id: participantId,
  text: said,
  started_at: new Date().toISOString(),
  ended_at: new Date().toISOString(),
  confidence: 0.9,
});

afterEach(() => vi.restoreAllMocks());

describe("a call's agent settings", () => {
  it("are stored with the call and returned by GET; absent means off", async () => {
    const c = await createCall({ agent_id: AGENT, agent: { mode: "on_request", name: "Nova", instructions: "Be brief.", voice: "alloy" } });
    expect(c.agent).toEqual({ mode: "on_request", name: "Nova", instructions: "Be brief.", voice: "alloy", model: null });
    const read = await json<{ agent: unknown }>(await call(`/api/v2/calls/${c.call_id}`));
    expect(read.agent).toEqual(c.agent);
    const plain = await createCall({ agent_id: AGENT });
    expect(plain.agent).toEqual({ mode: "off", name: "Agent", instructions: "", voice: null, model: null });
  });

  it("refuses a wrong mode, an unknown field (an agent_id included) or wrong types with 422, creating nothing", async () => {
    const before = await json<{ calls: unknown[] }>(await call(`/api/v2/calls?agent_id=${AGENT}&limit=100`));
    for (const agent of [{ mode: "always" }, { mode: "auto", agent_id: OTHER }, { instructions: 5 }, { name: "" }, "auto"]) {
      const doc = await problem(await call("/api/v2/calls", { body: { agent_id: AGENT, agent } }), 422);
      expect(JSON.stringify(doc.errors)).toContain("agent");
    }
    const after = await json<{ calls: unknown[] }>(await call(`/api/v2/calls?agent_id=${AGENT}&limit=100`));
    expect(after.calls.length).toBe(before.calls.length);
  });

  it("appear in the OpenAPI document", async () => {
    const doc = await json<{ components: { schemas: Record<string, any> } }>(await call("/openapi.json", { token: null }));
    const text = JSON.stringify(doc);
    expect(text).toContain('"on_request"');
    expect(text).toContain("agent_event");
  });
});

describe("in auto mode the agent answers an utterance", () => {
  it("with the model's answer spoken sentence by sentence and recorded in the transcript", async () => {
    const { callId, alice, bot, peer } = await callWithAgent();
    const llm = fakeLlm([{ chunks: [text("Sure"), text(", the release is"), text(" on Friday. Anything"), text(" else?"), stop()] }]);
    const speech = fakeSpeech();
    const heard: number[] = [];
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "When is the release?"));
    });
    // The model got the instructions and the conversation, and the tools it may use.
    const sent = llm.requests[0]!;
    expect(sent.model).toBe("fake-model");
    expect(sent.messages[0].role).toBe("system");
    expect(sent.messages[0].content).toContain("Dana is dana@example.com");
    expect(sent.messages.at(-1)).toEqual({ role: "user", content: "Alice: When is the release?" });
    expect(sent.tools.map((t: any) => t.function.name)).toEqual([
      "load_agent_state",
      "save_agent_state",
      "create_task",
      "request_approval",
    ]);
    // Each sentence was synthesized and sent on the sockets, in order, as the agent's speech.
    // Synthesized at once (requests in either order), sent in order.
    const sentences = ["Sure, the release is on Friday.", "Anything else?"];
    expect([...speech.inputs].sort()).toEqual([...sentences].sort());
    for (const sentence of sentences) {
      const frame = await peer.next("agent_speech");
      expect(frame).toMatchObject({ participant_id: bot, text: sentence, content_type: "audio/wav" });
      heard.push(atob(frame.audio as string).length);
    }
    expect(heard).toEqual([toneWav().length, toneWav().length]);
    expect((await transcript(callId)).map((l) => [l.participant_id, l.source, l.text])).toEqual([
      [bot, "text_to_speech", "Sure, the release is on Friday."],
      [bot, "text_to_speech", "Anything else?"],
    ]);
  });

  it("in on_request mode, only when an utterance names it", async () => {
    const { callId, alice } = await callWithAgent({ mode: "on_request", name: "Nova" });
    const llm = fakeLlm([{ chunks: [text("Here."), stop()] }]);
    const speech = fakeSpeech();
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "I think the supernova demo is ready."));
    });
    expect(llm.requests).toHaveLength(0);
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "Nova, are you there?"));
    });
    expect(llm.requests).toHaveLength(1);
    expect(speech.inputs).toEqual(["Here."]);
  });
});

describe("barge-in", () => {
  it("stops the answer when a participant starts speaking: stream cancelled, pages told, the rest dropped", async () => {
    const { callId, alice, bob, peer } = await callWithAgent();
    const llm = fakeLlm([{ chunks: [text("First sentence here. "), text("Second sentence is")], hold: true }]);
    const speech = fakeSpeech();
    const frames = await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent, instance) => {
      agent.utterance(utterance(alice, "Tell me a long story."));
      await vi.waitFor(() => expect(instance.transcript()?.length).toBe(1), { timeout: 10_000, interval: 10 });
      agent.speechStarted(bob);
    });
    expect(llm.aborted()).toBe(1);
    expect(frames).toContainEqual(expect.objectContaining({ type: "agent_speech_stop", reason: "barge_in", participant_id: bob }));
    expect((await peer.next("agent_speech")).text).toBe("First sentence here.");
    const lines = await transcript(callId);
    expect(lines.map((l) => [l.source, l.text])).toEqual([
      ["text_to_speech", "First sentence here."],
      ["agent_event", "Stopped speaking: a participant started talking (1 sentence(s) spoken)."],
    ]);
    expect(speech.inputs).toEqual(["First sentence here."]);
    expect(peer.inbox.filter((f) => f.type === "agent_speech")).toEqual([]);
  });

  it("ignores the agent's own participant starting to speak", async () => {
    const { callId, alice, bot } = await callWithAgent();
    const llm = fakeLlm([{ chunks: [text("One. "), text("Two."), stop()] }]);
    const speech = fakeSpeech();
    const frames = await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "Count."));
      agent.speechStarted(bot);
    });
    expect(frames.filter((f) => f.type === "agent_speech_stop")).toEqual([]);
    expect([...speech.inputs].sort()).toEqual(["One.", "Two."]);
  });
});

describe("a provider failing mid-answer", () => {
  it("stops the answer: the model stream is cancelled and the transcript says why, with only what was spoken", async () => {
    const { callId, alice } = await callWithAgent();
    const llm = fakeLlm([{ chunks: [text("One sentence here. "), text("Another one. "), text("And more")], hold: true }]);
    let calls = 0;
    const failing = (async (input: RequestInfo | URL, init?: RequestInit) => {
      // Counted before any await: the first sentence is always the first request.
      const n = ++calls;
      await new Request(input, init).json();
      return n === 1 ? new Response(toneWav(), { headers: { "Content-Type": "audio/wav" } }) : new Response("overloaded", { status: 503 });
    }) as typeof fetch;
    const speech = (): SpeechSelection => ({ provider: new OpenAiCompatibleSpeech({ baseUrl: "http://speech.test", fetch: failing }) });
    await withAgent(callId, { llm: llm.selection, speech }, async (agent) => {
      agent.utterance(utterance(alice, "Talk to me."));
    });
    expect(llm.aborted()).toBe(1);
    const lines = (await transcript(callId)).map((l) => [l.source, l.text]);
    expect(lines).toEqual([
      ["text_to_speech", "One sentence here."],
      [
        "agent_event",
        expect.stringMatching(/^The agent stopped: Speech provider failed: openai-compatible: \/v1\/audio\/speech: HTTP 503/),
      ],
    ]);
  });
});

describe("tools", () => {
  it("'ask Dana to approve the release' creates an approval for the call's agent, recorded as a transcript event", async () => {
    const { callId, alice } = await callWithAgent();
    const llm = fakeLlm([
      {
        chunks: [
          toolCall("call_1", "request_approval", {
            title: "Release 2.4",
            description: "Alice asked to ship release 2.4.",
            approver_email: "dana@example.com",
          }),
          stop("tool_calls"),
        ],
      },
      { chunks: [text("I asked Dana to approve the release."), stop()] },
    ]);
    const speech = fakeSpeech();
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "Please ask Dana to approve the release."));
    });
    // The second round saw the tool's result, under the id the model gave the call.
    const second = llm.requests[1]!;
    expect(second.messages.at(-2)).toMatchObject({
      role: "assistant",
      tool_calls: [{ id: "call_1", type: "function", function: { name: "request_approval" } }],
    });
    const toolMessage = second.messages.at(-1);
    expect(toolMessage).toMatchObject({ role: "tool", tool_call_id: "call_1" });
    const result = JSON.parse(toolMessage.content) as { approval_id: string };
    expect(result.approval_id).toMatch(/^approval_/);
    expect(speech.inputs).toEqual(["I asked Dana to approve the release."]);

    const lines = await transcript(callId);
    expect(lines[0]).toMatchObject({
      source: "agent_event",
      text: expect.stringContaining(`requested approval ${result.approval_id} from dana@example.com`),
    });
    // The approval belongs to the call's agent: visible to it, refused to another agent's credential.
    const approval = await json<{ agent_id: string; approver_email: string; title: string }>(
      await call(`/api/v2/email/approval/${result.approval_id}`, { token: await mintToken({ role: "developer", agents: [AGENT] }) }),
    );
    expect(approval).toMatchObject({ agent_id: AGENT, approver_email: "dana@example.com", title: "Release 2.4" });
    await problem(
      await call(`/api/v2/email/approval/${result.approval_id}`, { token: await mintToken({ role: "developer", agents: [OTHER] }) }),
      403,
    );
  });

  it("cannot reach another agent: a call of another agent, and a model that names an agent_id, change nothing of it", async () => {
    const before = await json<{ approvals: unknown[] }>(await call(`/api/v2/email/approvals?agent_id=${AGENT}&limit=100`));
    const { callId, alice } = await callWithAgent({ mode: "auto" }, OTHER);
    const llm = fakeLlm([
      {
        chunks: [
          toolCall("call_x", "request_approval", {
            agent_id: AGENT,
            title: "Sneaky",
            description: "x",
            approver_email: "dana@example.com",
          }),
          stop("tool_calls"),
        ],
      },
      { chunks: [toolCall("call_y", "save_agent_state", { state_data: { hijacked: true } }), stop("tool_calls")] },
      { chunks: [text("Done."), stop()] },
    ]);
    const speech = fakeSpeech();
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "Ask Dana to approve the release of the other agent."));
    });
    const events = (await transcript(callId)).filter((l) => l.source === "agent_event").map((l) => l.text);
    expect(events[0]).toMatch(/^Tool request_approval refused: .*agent_id/);
    expect(events[1]).toBe("Tool saved state version 1");
    const refusal = JSON.parse(llm.requests[1]!.messages.at(-1).content) as { error: { code: string } };
    expect(refusal.error.code).toBe("validation_failed");
    // The save went to the call's own agent; the other agent's approvals and state are untouched.
    const after = await json<{ approvals: unknown[] }>(await call(`/api/v2/email/approvals?agent_id=${AGENT}&limit=100`));
    expect(after.approvals.length).toBe(before.approvals.length);
    expect((await call(`/api/v2/agents/${OTHER}/state`)).status).toBe(200);
    const agentState = await call(`/api/v2/agents/${AGENT}/state`);
    if (agentState.status === 200) expect(JSON.stringify(await agentState.json())).not.toContain("hijacked");
  });

  it("runs each call of a round in order, refuses an unknown tool, non-JSON arguments or a bad field, and stops after three rounds", async () => {
    const agentId = "agent-voice-tools";
    const { callId, alice } = await callWithAgent({ mode: "auto" }, agentId);
    const calls = (...list: [string, string, string][]): Chunk => ({
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: list.map(([id, name, args], index) => ({ index, id, type: "function", function: { name, arguments: args } })),
          },
          finish_reason: null,
        },
      ],
    });
    const llm = fakeLlm([
      {
        chunks: [
          calls(
            ["c1", "create_task", JSON.stringify({ task_type: "noop" })],
            ["c2", "drop_tables", "{}"],
            ["c3", "save_agent_state", "{not json"],
          ),
          stop("tool_calls"),
        ],
      },
      {
        chunks: [
          calls(["c4", "create_task", JSON.stringify({ task_type: "bad type!" })], ["c5", "load_agent_state", ""]),
          stop("tool_calls"),
        ],
      },
      // A model that keeps calling tools is not run a fourth round: this call is never made.
      { chunks: [calls(["c6", "save_agent_state", JSON.stringify({ state_data: { late: true } })]), stop("tool_calls")] },
    ]);
    const speech = fakeSpeech();
    await withAgent(callId, { llm: llm.selection, speech: speech.selection }, async (agent) => {
      agent.utterance(utterance(alice, "Start a noop task."));
    });
    expect(llm.requests.length).toBe(3);
    const results = (request: number) =>
      llm.requests[request]!.messages.filter((m: { role: string }) => m.role === "tool").map(
        (m: { tool_call_id: string; content: string }) => [m.tool_call_id, JSON.parse(m.content)],
      );
    const first = results(1);
    expect(first.map(([id]: [string]) => id)).toEqual(["c1", "c2", "c3"]);
    const task = first[0][1] as { task_id: string };
    expect(task.task_id).toMatch(/^task_/);
    expect(first[1][1]).toEqual({ error: { code: "not_found", detail: "No tool 'drop_tables'." } });
    expect(first[2][1]).toMatchObject({ error: { code: "invalid_json" } });
    const second = results(2).slice(3);
    expect(second.map(([id]: [string]) => id)).toEqual(["c4", "c5"]);
    expect(second[0][1]).toMatchObject({ error: { code: "validation_failed", detail: expect.stringMatching(/^task_type: /) } });
    expect(second[1][1]).toEqual({ version: 0, state_data: {} });

    const events = (await transcript(callId)).filter((l) => l.source === "agent_event").map((l) => l.text);
    expect(events).toEqual([
      `Tool created task ${task.task_id} (noop)`,
      "Tool unknown tool drop_tables",
      "Tool save_agent_state refused: arguments are not JSON",
      expect.stringMatching(/^Tool create_task refused: task_type: /),
      "Tool no state saved yet",
    ]);
    // The task is the call's agent's; the unrun third-round save left no state.
    expect(await json<{ agent_id: string }>(await call(`/api/v2/tasks/${task.task_id}`))).toMatchObject({ agent_id: agentId });
    expect((await call(`/api/v2/agents/${agentId}/state`)).status).toBe(404);
  });

  it("an unexpected failure inside a tool reaches the model only as a generic internal_error; its cause is logged", async () => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void errors.push(String(line)));
    const broken = {
      ...env,
      AGENT: {
        getByName: () => {
          throw new Error("storage exploded at shard 7");
        },
      },
    } as unknown as Env;
    const outcome = await runAgentTool({ env: broken, agentId: AGENT, callId: "call_x", requestId: "turn:t1" }, "load_agent_state", "{}");
    expect(outcome.ok).toBe(false);
    expect(outcome.result).toEqual({
      error: { code: "internal_error", detail: "An unexpected error occurred; the request id identifies it in the logs." },
    });
    expect(outcome.summary).toBe("load_agent_state failed: An unexpected error occurred; the request id identifies it in the logs.");
    expect(JSON.stringify(outcome)).not.toContain("shard 7");
    const logged = errors.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === "call.agent_tool_failed");
    expect(logged).toMatchObject({ level: "error", request_id: "turn:t1", call_id: "call_x", tool: "load_agent_state" });
    expect(String(logged?.error)).toContain("storage exploded at shard 7");
  });
});

describe("POST /api/v2/calls/{call_id}/agent/respond (the explicit request)", () => {
  const LLM = { LLM_BASE_URL: "https://llm.example.com" };
  const respond = (callId: string, overrides: Record<string, unknown> = LLM, token?: string) =>
    callWith(overrides, `/api/v2/calls/${callId}/agent/respond`, { method: "POST", ...(token ? { token } : {}) });
  const say = (callId: string, participantId: string, text: string) =>
    runInDurableObject(env.CALL_SESSION.getByName(callId), (instance: CallSessionDO) =>
      instance.appendTranscript({ participantId, text, source: "text", atMs: Date.now() }),
    );

  it("is accepted for the latest participant line; the agent then tries to answer", async () => {
    const { callId, alice, bot, peer } = await callWithAgent({ mode: "on_request", name: "Nova" });
    await say(callId, alice, "What is on the list?");
    await say(callId, bot, "Something the agent said.");
    const res = await respond(callId);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: true, answering: { participant_id: alice, text: "What is on the list?" } });
    // This object's environment has no model: the agent says why instead of answering.
    expect(await peer.next("agent_status")).toMatchObject({ available: false, reason: expect.stringContaining("LLM_BASE_URL") });
  });

  it("refuses: no model (503 naming the settings), agent off, nothing said yet, ended call (409), unknown call (404), another agent's credential (403)", async () => {
    const quiet = await callWithAgent({ mode: "auto" });
    const noModel = await problem(await respond(quiet.callId, {}), 503);
    expect(noModel.detail).toContain("LLM_BASE_URL");
    expect(noModel.settings).toEqual(["LLM_BASE_URL", "LLM_PROVIDER"]);
    expect((await problem(await respond(quiet.callId), 409)).detail).toContain("Nothing to answer yet");
    const off = await callWithAgent({ mode: "off" });
    await say(off.callId, off.alice, "Hello?");
    expect((await problem(await respond(off.callId), 409)).detail).toContain("agent is off");
    await problem(await respond("call_ffffffffffffffffffffffff"), 404);
    const foreign = await mintToken({ role: "developer", agents: [OTHER] });
    await problem(await respond(quiet.callId, LLM, foreign), 403);
    await call(`/api/v2/calls/${quiet.callId}/end`, { method: "POST" });
    expect((await problem(await respond(quiet.callId), 409)).detail).toContain("ended");
    // Nothing was said by the agent in any of them.
    expect(await transcript(quiet.callId)).toEqual([]);
    expect((await transcript(off.callId)).map((l) => l.source)).toEqual(["text"]);
  });
});

describe("no language model configured", () => {
  it("no reply: the transcribed line is kept, the pages and the transcript say why, nothing 5xx", async () => {
    const { callId, alice, peer } = await callWithAgent();
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      if (req.url === "http://speech.test/v1/audio/transcriptions")
        return Response.json({ text: "When is the release?", language: "english", duration: 1 });
      throw new Error(`unexpected fetch ${req.url}`);
    });
    // The real object's agent (this test environment has no LLM_* settings), through the real route.
    const res = await callWith({ SPEECH_BASE_URL: "http://speech.test" }, `/api/v2/calls/${callId}/transcribe?participant_id=${alice}`, {
      rawBody: toneWav(),
      headers: { "Content-Type": "audio/wav" },
    });
    expect(res.status).toBe(200);
    const status = await peer.next("agent_status");
    expect(status).toMatchObject({ available: false, reason: expect.stringContaining("LLM_BASE_URL") });
    await vi.waitFor(async () => expect((await transcript(callId)).length).toBe(2));
    const lines = await transcript(callId);
    expect(lines.map((l) => [l.source, l.text])).toEqual([
      ["speech_to_text", "When is the release?"],
      ["agent_event", expect.stringMatching(/^The agent did not answer: No language model is configured: set LLM_BASE_URL/)],
    ]);
    expect(peer.inbox.filter((f) => f.type === "agent_speech")).toEqual([]);
    // Said once per call, not on every utterance.
    await callWith({ SPEECH_BASE_URL: "http://speech.test" }, `/api/v2/calls/${callId}/transcribe?participant_id=${alice}`, {
      rawBody: toneWav(),
      headers: { "Content-Type": "audio/wav" },
    });
    await peer.next("agent_status");
    expect((await transcript(callId)).filter((l) => l.source === "agent_event")).toHaveLength(1);
  });
});
