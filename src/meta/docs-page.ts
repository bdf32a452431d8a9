/**
 * `/docs`: the OpenAPI document rendered server-side as one self-contained HTML page (no CDN
 * scripts), so it works offline, on a laptop, and behind strict CSPs.
 */

type Json = Record<string, unknown>;

const esc = (s: unknown) =>
  String(s ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

function schemaBlock(schema: unknown): string {
  return schema ? `<pre>${esc(JSON.stringify(schema, null, 2))}</pre>` : "";
}

function operation(method: string, path: string, op: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const body = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.["application/json"]?.schema;
  const responses = Object.entries((op.responses as Record<string, Json>) ?? {});
  const permission = op["x-required-permission"] ? `needs <code>${esc(op["x-required-permission"])}</code>` : "no credentials";
  return `<section id="${esc(op.operationId)}">
  <h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
  <p><strong>${esc(op.summary)}</strong> · ${permission}</p>
  ${op.description ? `<p>${esc(op.description)}</p>` : ""}
  ${params.length ? `<table><tr><th>parameter</th><th>in</th><th>description</th></tr>${params.map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? " *" : ""}</td><td>${esc(p.in)}</td><td>${esc(p.description)}</td></tr>`).join("")}</table>` : ""}
  ${body ? `<details><summary>Request body</summary>${schemaBlock(body)}</details>` : ""}
  <details><summary>Responses: ${responses.map(([s]) => esc(s)).join(", ")}</summary>${responses
    .map(
      ([s, r]) =>
        `<p><code>${esc(s)}</code> ${esc(r.description)}</p>${schemaBlock(Object.values((r.content as Record<string, Json>) ?? {})[0]?.schema)}`,
    )
    .join("")}</details>
</section>`;
}

export function renderDocsPage(doc: Json): string {
  const info = doc.info as Json;
  const paths = Object.entries(doc.paths as Record<string, Record<string, Json>>);
  const ops = paths.flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => operation(m, path, op)));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title)}</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
section{border-top:1px solid #ddd;padding:.5rem 0}pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
.m{display:inline-block;min-width:4rem;border-radius:4px;color:#fff;text-align:center;font-size:13px}
.get{background:#2b7bb9}.post{background:#2f9e44}.put,.patch{background:#d9822b}.delete{background:#c92a2a}
</style></head><body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>${ops.join("\n")}</body></html>`;
}
