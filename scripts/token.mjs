// `npm run token -- --sub alice --role developer [--agents a,b] [--ttl 1h]`
// Mints a development JWT (HS256) with JWT_SECRET from the environment or `.dev.vars`.
import { parseArgs } from "node:util";
import { ensureDevVars } from "./dev-vars.mjs";
import { ROLES, mintDevToken } from "./lib/dev-token.mjs";

const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "dev" },
    role: { type: "string", default: "developer" },
    agents: { type: "string" },
    ttl: { type: "string", default: "12h" },
  },
});
const role = ROLES.find((r) => r === values.role);
if (!role) {
  console.error(`--role must be one of ${ROLES.join(", ")}`);
  process.exit(2);
}
const secret = process.env.JWT_SECRET ?? ensureDevVars().JWT_SECRET;
if (!secret) {
  console.error("No JWT_SECRET in the environment or .dev.vars");
  process.exit(2);
}
const agents = values.agents
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const token = await mintDevToken(secret, { sub: values.sub, role, ...(agents ? { agents } : {}) }, { ttl: values.ttl });
process.stdout.write(`${token}\n`);
