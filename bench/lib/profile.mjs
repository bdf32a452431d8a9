// A V8 CPU profile of a Worker's isolate, taken through wrangler's inspector port (Chrome
// DevTools Protocol), attributed to source modules by the `// path` markers esbuild writes into
// the (unminified) bundle. The isolate runs the Worker and its Durable Objects. workerd runs
// every isolate of the process (miniflare's entry worker, the local KV/D1 simulators) on one
// thread and samples by wall clock, so the sampled times are not CPU times: read them as shares.
import path from "node:path";

/** Opens a CDP session on wrangler's inspector proxy (it insists on a local Origin header). */
export async function connectInspector(inspectorPort) {
  if (typeof WebSocket !== "function") throw new Error("needs Node ≥ 22 (global WebSocket); run through `npm run bench`");
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: "http://127.0.0.1" } });
  const pending = new Map();
  const scripts = [];
  let nextId = 0;
  ws.onmessage = (event) => {
    const msg = JSON.parse(typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8"));
    if (msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else resolve(msg.result);
    } else if (msg.method === "Debugger.scriptParsed") {
      scripts.push(msg.params);
    }
  };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`inspector on port ${inspectorPort}: no connection in 30 s`)), 30_000);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve();
    };
    ws.onerror = (e) => {
      clearTimeout(timer);
      reject(new Error(`inspector on port ${inspectorPort}: ${e.message ?? "connection failed"}`));
    };
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`CDP ${method}: no answer in 30 s`));
      }, 30_000);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, scripts, close: () => ws.close() };
}

// esbuild's module markers, e.g. `// src/app.ts`, `// ../../node_modules/hono/dist/hono.js`, `// index.ts`.
const MARKER = /^\/\/ ((?:\.\.\/)*[\w@][\w@.+/-]*\.(?:[cm]?[jt]s|tsx|jsx))$/;

/**
 * scriptId → { url, marks: [[line, modulePath]] } for the Worker's bundle. `configDir` is the
 * wrangler config's folder relative to the repository (markers are relative to it).
 */
export async function moduleMaps(cdp, configDir = "") {
  await cdp.send("Debugger.enable");
  await new Promise((r) => setTimeout(r, 300));
  const maps = new Map();
  for (const script of cdp.scripts) {
    if (!script.url.startsWith("file://") || !script.url.includes("/.wrangler/tmp/")) continue;
    const { scriptSource } = await cdp.send("Debugger.getScriptSource", { scriptId: script.scriptId });
    const marks = [];
    scriptSource.split("\n").forEach((line, index) => {
      const m = MARKER.exec(line);
      if (m) marks.push([index, path.posix.normalize(path.posix.join(configDir, m[1]))]);
    });
    maps.set(script.scriptId, { url: script.url, marks });
  }
  await cdp.send("Debugger.disable");
  return maps;
}

function moduleAt(map, line) {
  const marks = map.marks;
  let lo = 0;
  let hi = marks.length - 1;
  let found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid][0] <= line) {
      found = marks[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found ?? "(bundle prelude)";
}

/** Where a module's time is reported. */
export function categoryOf(modulePath) {
  if (modulePath.startsWith("node_modules/")) {
    const pkg = modulePath.split("/")[1];
    return ["hono", "zod", "jose"].includes(pkg) ? pkg : "other packages";
  }
  if (modulePath.startsWith("src/auth/")) return "product: src/auth";
  if (modulePath.startsWith("src/http/")) return "product: src/http (routing, validation, errors)";
  if (modulePath.startsWith("src/state/")) return "product: src/state (service, wire, schemas)";
  if (modulePath.startsWith("src/lib/")) return "product: src/lib (log, time, problem)";
  if (modulePath.startsWith("src/calls/")) return "product: src/calls (messages, model)";
  if (modulePath.startsWith("durable-objects/call-session")) return "product: durable-objects (CallSessionDO)";
  if (modulePath.startsWith("src/")) return "product: src (other)";
  if (modulePath.startsWith("durable-objects/")) return "product: durable-objects (AgentDO)";
  if (modulePath.startsWith("bench/")) return "baseline code";
  return "other";
}

function classify(frame, maps) {
  const name = frame.functionName || "(anonymous)";
  if (name === "(idle)") return { category: "(idle)", module: "", name };
  if (name === "(root)") return { category: "(idle)", module: "", name };
  if (name === "(program)") return { category: "outside JS (program)", module: "", name };
  if (name === "(garbage collector)") return { category: "garbage collection", module: "", name };
  const map = maps.get(frame.scriptId);
  if (map) {
    const module = moduleAt(map, frame.lineNumber);
    return { category: categoryOf(module), module, name };
  }
  const url = frame.url || "";
  if (url === "") return { category: "native (V8/workerd builtins)", module: "", name };
  if (/^(workerd|node-internal|cloudflare-internal|cloudflare):/.test(url)) return { category: "workerd JS glue", module: url, name };
  if (url.includes("miniflare")) return { category: "miniflare wrappers", module: url.replace(/^.*\/workers\//, "miniflare/"), name };
  return { category: "other", module: url, name };
}

/**
 * Self time per category and per function, as shares of the isolate's busy (non-idle) samples
 * and as sampled milliseconds per request (`requests` completed while profiling).
 */
export function summarizeProfile(profile, maps, requests, top = 12) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? timeDeltas[i] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const categories = {};
  const functions = new Map();
  let busyUs = 0;
  for (const [nodeId, us] of selfUs) {
    const c = classify(byId.get(nodeId).callFrame, maps);
    if (c.category === "(idle)") continue;
    busyUs += us;
    categories[c.category] = (categories[c.category] ?? 0) + us;
    const key = `${c.name} [${c.module || c.category}]`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const entry = (us) => ({ share: busyUs ? us / busyUs : 0, sampledMsPerRequest: us / 1000 / Math.max(1, requests) });
  return {
    requests,
    busySampledMsPerRequest: busyUs / 1000 / Math.max(1, requests),
    categories: Object.fromEntries(
      Object.entries(categories)
        .sort((a, b) => b[1] - a[1])
        .map(([k, us]) => [k, entry(us)]),
    ),
    topFunctions: [...functions.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ function: fn, ...entry(us) })),
  };
}

/** Runs `work()` with the sampling profiler on; returns its result and the raw profile. */
export async function profileDuring(cdp, work, intervalUs = 200) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: intervalUs });
  await cdp.send("Profiler.start");
  let result;
  let profile;
  try {
    result = await work();
  } finally {
    ({ profile } = await cdp.send("Profiler.stop"));
    await cdp.send("Profiler.disable");
  }
  return { result, profile };
}
