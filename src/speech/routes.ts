/** `POST /api/v2/speech`: text-to-speech on its own, outside any call. */
import type { Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { SpeechBody } from "./schemas";
import { synthesize } from "./service";

export function registerSpeechRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/speech",
      operationId: "synthesizeSpeech",
      summary: "Text-to-speech: the audio bytes in the provider's content type",
      tags: ["speech"],
      permission: "calls:write",
      body: SpeechBody,
      responses: {
        200: { description: "The audio.", contentType: "audio/mpeg" },
        403: { description: "The credential lacks calls:write." },
        422: { description: "The input does not match the schema." },
        503: { description: "No speech provider is configured (the detail names SPEECH_BASE_URL / SPEECH_PROVIDER), or it failed." },
      },
    },
    async (c, { body }) => {
      const spoken = await synthesize(c.env, body.text, body.voice);
      return c.body(spoken.audio, 200, { "Content-Type": spoken.contentType, "Content-Length": String(spoken.audio.byteLength) });
    },
  );
}
