/** Routes for a call's recordings: download one, erase all. The listing rides on GET /api/v2/calls/{call_id}. */
import type { Hono } from "hono";
import type { AppEnv } from "../../http/app-env";
import { defineRoute } from "../../http/route";
import { z } from "zod";
import { CallId, CallParams } from "../schemas";
import { EraseRecordingsResult, RecordingId } from "./schemas";
import { downloadRecording, eraseRecordings } from "./service";

const TAGS = ["calls"];
const RecordingParams = z.object({ call_id: CallId, recording_id: RecordingId });
const refusals = {
  403: { description: "The credential is limited to other agents, or lacks the permission." },
  404: { description: "Unknown call (or recording)." },
};

export function registerRecordingRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id/recordings/:recording_id",
      operationId: "downloadCallRecording",
      summary: "Download one recording (WAV for a participant's microphone, MP3 for the agent's speech)",
      description: "Streams the chunks stored so far as one playable file; a recording of a call still running grows between downloads.",
      tags: TAGS,
      permission: "state:read",
      params: RecordingParams,
      responses: {
        200: { description: "The audio file.", contentType: "audio/wav" },
        ...refusals,
        503: { description: "This server has no RECORDINGS bucket." },
      },
    },
    async (c, { params }) => downloadRecording(c.env, params.call_id, params.recording_id, c.var.principal),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/calls/:call_id/recordings",
      operationId: "eraseCallRecordings",
      summary: "Erase every recording of the call (the stored audio is deleted)",
      description:
        "Deletes the listing and every stored chunk. A call still running goes on being recorded (its participants are still told); new audio starts new recordings.",
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      responses: { 200: { description: "What was erased.", schema: EraseRecordingsResult }, ...refusals },
    },
    async (c, { params }) =>
      c.json({ call_id: params.call_id, ...(await eraseRecordings(c.env, params.call_id, c.var.principal, c.var.requestId)) }),
  );
}
