/** `/health` says whether a call's answering agent can answer: a model configured (and reachable) and speech to carry it. */
import { describe, expect, it } from "vitest";
import { callWith, json } from "../helpers/api";

async function agentCheck(overrides: Record<string, unknown>): Promise<{ ok: boolean; detail: string }> {
  const body = await json<{ checks: Record<string, { ok: boolean; detail: string }> }>(await callWith(overrides, "/health"));
  return body.checks.answering_agent!;
}

describe("/health checks.answering_agent", () => {
  it("without a model: not ok, naming the settings", async () => {
    const check = await agentCheck({ SPEECH_BASE_URL: "https://speech.example.com" });
    expect(check.ok).toBe(false);
    expect(check.detail).toContain("LLM_BASE_URL");
    expect(check.detail).toContain("LLM_PROVIDER=workers-ai");
  });

  it("with a model but no speech: not ok, the agent cannot speak", async () => {
    const check = await agentCheck({ LLM_BASE_URL: "https://llm.example.com" });
    expect(check).toEqual({ ok: false, detail: expect.stringContaining("the agent cannot speak") });
  });

  it("with both: ok, naming the provider and the model", async () => {
    const check = await agentCheck({
      LLM_BASE_URL: "https://llm.example.com",
      LLM_MODEL: "m-7b",
      SPEECH_BASE_URL: "https://speech.example.com",
    });
    expect(check).toEqual({ ok: true, detail: "answers with openai-compatible (m-7b), spoken through openai-compatible" });
  });

  it("self-hosted with the model server on a loopback address nobody opened: not ok, says why", async () => {
    const check = await agentCheck({
      RUNTIME: "selfhost",
      LLM_BASE_URL: "http://127.0.0.1:11434",
      SPEECH_BASE_URL: "https://speech.example.com",
      OUTBOUND_PRIVATE_NETWORKS: "",
    });
    expect(check.ok).toBe(false);
    expect(check.detail).toContain("language model server is not reachable here");
    expect(check.detail).toContain("LLM_BASE_URL");
  });
});
