// Stage measurements: endpoints that each add one part of the product's save path, so the gap
// to the baseline can be split from the outside, without touching the product's code.

/**
 * @param {object} r  request builders from run.mjs: { auth, agentIds, baselineSave(id), productSave(id) }
 */
export function stageSpecs(r) {
  return [
    {
      id: "bare",
      side: "baseline",
      label: "baseline GET / (HTTP path + bare Hono)",
      reqs: [{ method: "GET", path: "/", headers: {} }],
      ok: [200],
    },
    {
      id: "public",
      side: "product",
      label: "product GET / (+ request id, CORS, body limit, router)",
      reqs: [{ method: "GET", path: "/", headers: {} }],
      ok: [200],
    },
    {
      id: "auth",
      side: "product",
      label: "product GET /api/… with JWT → 404 (+ authentication)",
      reqs: [{ method: "GET", path: "/api/v2/bench-no-such-route", headers: r.auth }],
      ok: [404],
    },
    {
      // If-Match names a version that cannot be current: the AgentDO answers version_mismatch
      // before writing, so this is everything a save does except the write, the derived-store
      // sync and the log line.
      id: "refused",
      side: "product",
      label: "product save refused by If-Match → 412 (+ body, zod, DO RPC, read)",
      reqs: r.agentIds.map((id) => {
        const s = r.productSave(id);
        return { ...s, headers: { ...s.headers, "if-match": '"999999999"' } };
      }),
      ok: [412],
    },
    {
      id: "productSave",
      side: "product",
      label: "product save (as in the main table)",
      reqs: r.agentIds.map((id) => r.productSave(id)),
      ok: [200],
    },
    {
      id: "baselineSave",
      side: "baseline",
      label: "baseline save (as in the main table)",
      reqs: r.agentIds.map((id) => r.baselineSave(id)),
      ok: [200],
    },
    {
      id: "baselineSaveLogged",
      side: "baseline",
      label: "baseline save + one console.log line like the product's",
      reqs: r.agentIds.map((id) => ({ ...r.baselineSave(id), path: `/agents/${id}/state-logged` })),
      ok: [200],
    },
  ];
}

export const serverCpu = (c) => c.workerd_runtime + c.workerd_proxy + c.wrangler_node + (c.other ?? 0);

/**
 * Splits the save gap (product − baseline server CPU per request, 8 agents) into stages, all
 * from the same interleaved stage windows. Differences of medians on a shared 2-core machine:
 * a stage near zero can come out slightly negative.
 */
export function saveBudget(stages) {
  const cpu = Object.fromEntries(stages.map((s) => [s.id, serverCpu(s.summary.cpuMsPerRequest)]));
  const logLine = cpu.baselineSaveLogged - cpu.baselineSave;
  return {
    productSave: cpu.productSave,
    baselineSave: cpu.baselineSave,
    gap: cpu.productSave - cpu.baselineSave,
    parts: [
      { stage: "middleware (request id, CORS, body limit) + JWT authentication", ms: cpu.auth - cpu.bare },
      {
        stage: "body read + zod + DO RPC + version check (no write), beyond the baseline's whole save",
        ms: cpu.refused - cpu.auth - (cpu.baselineSave - cpu.bare),
      },
      { stage: "one log line per save under wrangler dev (measured on the baseline)", ms: logLine },
      {
        stage: "versioned write (history row, meta, prune, sync marker, timer) + derived KV/D1 sync",
        ms: cpu.productSave - cpu.refused - logLine,
      },
    ],
  };
}
