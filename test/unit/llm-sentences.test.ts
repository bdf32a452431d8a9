/** Cutting a streamed answer into sentences, and when an utterance addresses the agent. */
import { describe, expect, it } from "vitest";
import { AGENT_OFF, addressesAgent, type CallAgent } from "../../src/calls/agent-config";
import { MAX_SENTENCE_CHARS, SentenceCutter } from "../../src/llm/sentences";

function cutAll(pieces: string[]): string[] {
  const cutter = new SentenceCutter();
  const out = pieces.flatMap((p) => cutter.push(p));
  const rest = cutter.flush();
  return rest ? [...out, rest] : out;
}

describe("SentenceCutter", () => {
  it("gives each sentence as soon as the text after its stop arrives", () => {
    const cutter = new SentenceCutter();
    expect(cutter.push("Hello")).toEqual([]);
    expect(cutter.push(" there. How")).toEqual(["Hello there."]);
    expect(cutter.push(" are you?")).toEqual([]);
    expect(cutter.push(" Fine!\nNext")).toEqual(["How are you?", "Fine!"]);
    expect(cutter.flush()).toBe("Next");
    expect(cutter.flush()).toBeNull();
  });

  it("does not cut at abbreviations, initials or decimals, and keeps closing quotes", () => {
    expect(cutAll(["Dr. Smith paid 3.5 dollars, e.g. for J. Doe. ", 'He said "yes." Then left.'])).toEqual([
      "Dr. Smith paid 3.5 dollars, e.g. for J. Doe.",
      'He said "yes."',
      "Then left.",
    ]);
  });

  it("cuts a run without stops into bounded pieces at a space", () => {
    const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(" ");
    const out = cutAll([words]);
    expect(out.length).toBeGreaterThan(1);
    for (const piece of out) expect(piece.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARS);
    expect(out.join(" ")).toBe(words);
  });
});

describe("addressesAgent", () => {
  const nova: CallAgent = { ...AGENT_OFF, mode: "on_request", name: "Nova" };
  it("on_request answers only an utterance naming the agent as a word", () => {
    expect(addressesAgent(nova, "Nova, what is next?")).toBe(true);
    expect(addressesAgent(nova, "can you check that, nova")).toBe(true);
    expect(addressesAgent(nova, "the supernova was bright")).toBe(false);
    expect(addressesAgent(nova, "what is next?")).toBe(false);
  });
  it("auto answers everything, off nothing", () => {
    expect(addressesAgent({ ...nova, mode: "auto" }, "anything")).toBe(true);
    expect(addressesAgent({ ...nova, mode: "off" }, "Nova, hello")).toBe(false);
  });
});
