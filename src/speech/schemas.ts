/** zod schemas of speech requests: validation, types and the OpenAPI document in one place. */
import { z } from "zod";
import { MAX_SPEECH_TEXT_CHARS } from "./types";

export const SpeechBody = z
  .object({
    text: z.string().min(1).max(MAX_SPEECH_TEXT_CHARS).describe("What to say."),
    voice: z.string().min(1).max(64).optional().describe("A provider voice (OpenAI-compatible: alloy, …; Workers AI Aura: angus, …)."),
  })
  .strict();
