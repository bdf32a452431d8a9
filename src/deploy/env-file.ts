/**
 * `.env.<env>`: every setting with this environment's value and a comment. Secrets are empty, each
 * with how to make one; nothing generated here is ever a usable secret.
 */
import type { Environment } from "./environments";
import type { GeneratedFile } from "./files";
import { VARIABLES } from "./variables";

/**
 * Values are written bare: `docker run --env-file` takes everything after `=` literally (quotes
 * included) while Compose strips them, so only bare values mean the same to both. None of ours
 * needs quoting; one that would is a bug here, not something to escape.
 */
function bare(name: string, value: string): string {
  if (!/^[\w.:/@,+-]*$/.test(value)) throw new Error(`${name}: ${JSON.stringify(value)} cannot be written bare in an env file`);
  return value;
}

export function envFile(env: Environment): GeneratedFile {
  const lines = [
    `# ${env.name} settings for the self-hosted server (docs/configuration.md lists each one).`,
    "# Fill in the REQUIRED secrets before the first start (the server reports itself degraded without",
    '# them), and keep this file out of version control. An empty value means "not configured".',
    "",
  ];
  for (const secret of [false, true]) {
    lines.push(secret ? "# --- Secrets ---" : "# --- Settings ---");
    for (const v of VARIABLES.filter((x) => x.secret === secret)) lines.push(`# ${v.comment}`, `${v.name}=${bare(v.name, v.value(env))}`);
    lines.push("");
  }
  return { path: `.env.${env.name}`, content: lines.join("\n") };
}
