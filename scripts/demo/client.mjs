// The demo's HTTP client: JSON requests with the demo's credential, and the server's problem
// documents turned into one error that names the step's request and the problem's title, detail and status.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.

/** A request the demo could not go on from: a 4xx/5xx answer or no answer at all. */
export class DemoFailure extends Error {
  /**
   * @param {string} request e.g. "POST /api/v2/agents/demo/state"
   * @param {number | null} status null when the server did not answer
   * @param {string} title
   * @param {string} [detail]
   */
  constructor(request, status, title, detail) {
    super(`${request} → ${status ?? "no answer"} ${title}${detail ? `: ${detail}` : ""}`);
    this.request = request;
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {Headers} headers
 * @property {any} body the parsed JSON body, or the text when it is not JSON
 */

/**
 * @param {string} baseUrl
 * @param {string} apiKey an API key, the admin key or a JWT: sent as `Authorization: Bearer`
 */
export function demoClient(baseUrl, apiKey) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ body?: unknown, headers?: Record<string, string>, auth?: boolean, accept?: (status: number) => boolean }} [options]
   *   `accept`: statuses the caller handles itself (default: 2xx only; anything else is a DemoFailure)
   * @returns {Promise<Answer>}
   */
  async function request(method, path, { body, headers = {}, auth = true, accept = (s) => s >= 200 && s < 300 } = {}) {
    const label = `${method} ${path}`;
    /** @type {Record<string, string>} */
    const sent = { Accept: "application/json", ...headers };
    if (auth) sent.Authorization = `Bearer ${apiKey}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const error = /** @type {Error} */ (err);
      throw new DemoFailure(label, null, "The server did not answer", String(error.cause ?? error.message));
    }
    const text = await res.text();
    /** @type {any} */
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (an HTML page): the text is the body.
    }
    if (!accept(res.status)) throw failureOf(label, res.status, parsed);
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /**
   * An open Server-Sent Events stream, read event by event.
   * @param {string} path
   * @returns {AsyncGenerator<{ event: string, data: any }>}
   */
  async function* events(path) {
    const label = `GET ${path}`;
    const res = await fetch(new URL(path, baseUrl), {
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(300_000),
    }).catch((/** @type {Error} */ err) => {
      throw new DemoFailure(label, null, "The server did not answer", String(err.cause ?? err.message));
    });
    if (!res.ok || !res.body) {
      const text = await res.text();
      /** @type {any} */
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      throw failureOf(label, res.status, parsed);
    }
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data !== "") yield { event, data: JSON.parse(data) };
      }
    }
  }

  return { baseUrl, request, events };
}

/** @typedef {ReturnType<typeof demoClient>} DemoClient */

/**
 * @param {string} label
 * @param {number} status
 * @param {any} body a problem document, or whatever came back
 */
function failureOf(label, status, body) {
  if (body && typeof body === "object" && typeof body.title === "string") {
    return new DemoFailure(label, status, body.title, typeof body.detail === "string" ? body.detail : undefined);
  }
  return new DemoFailure(label, status, "Unexpected answer", String(typeof body === "string" ? body : JSON.stringify(body)).slice(0, 300));
}
