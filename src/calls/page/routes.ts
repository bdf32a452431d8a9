/**
 * The call page: `GET /calls/{call_id}` (its script and style are static assets, served by the
 * platform before the Worker runs: src/calls/page/page-html.ts names them). No API credentials:
 * the page itself shows nothing about the call; the join token (`?token=` or pasted) is what opens
 * the signalling socket, the ICE servers and the transcript. An unknown call is a 404 page, an
 * ended one a 409 page, both with the same strict headers as the page.
 */
import type { Context, Hono } from "hono";
import { callSession } from "../service";
import { CallId } from "../schemas";
import { realtimeCredentials } from "../settings";
import { FINAL_STATUSES } from "../model";
import { CALL_PAGE_HEADERS, callMessagePage, callPageHtml } from "./page-html";
import type { AppEnv } from "../../http/app-env";
import { defineRoute } from "../../http/route";

const TAGS = ["calls"];

function html(c: Context<AppEnv>, status: 200 | 404 | 409, body: string): Response {
  return c.body(body, status, CALL_PAGE_HEADERS);
}

export function registerCallPageRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/calls/:call_id",
      operationId: "callPage",
      summary: "A browser page to join the call (microphone, camera, participants, live transcript, the agent's voice)",
      description:
        "Open with ?token=<join_token from POST …/participants>, or paste the token. With REALTIME_APP_ID + REALTIME_APP_SECRET the page sends and receives media through the Realtime SFU (via the /sfu/sessions proxy); without them (no Cloudflare account) two tabs talk peer-to-peer.",
      tags: TAGS,
      permission: "public",
      responses: {
        200: { description: "The page.", contentType: "text/html" },
        404: { description: "Unknown call (an HTML page).", contentType: "text/html" },
        409: { description: "The call has ended (an HTML page).", contentType: "text/html" },
      },
    },
    async (c) => {
      const callId = c.req.param("call_id") ?? "";
      const unknown = () => html(c, 404, callMessagePage("No such call", "There is no call with this id. Check the link you were given."));
      if (!CallId.safeParse(callId).success) return unknown();
      const call = await callSession(c.env, callId).get();
      if (!call) return unknown();
      if (FINAL_STATUSES.includes(call.status))
        return html(c, 409, callMessagePage("This call has ended", `The call is ${call.status}; there is nothing to join.`));
      return html(c, 200, callPageHtml(callId, realtimeCredentials(c.env) ? "sfu" : "p2p"));
    },
  );
}
