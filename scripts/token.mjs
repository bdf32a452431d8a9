// `npm run token -- --sub alice --role developer [--agents a,b] [--ttl 1h]`
// Mints a development JWT (HS256) with JWT_SECRET from the environment or `.dev.vars`.
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { ensureDevVars } from "./dev-vars.mjs";

const ROLES = ["guest", "user", "developer", "admin", "super_admin"];
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "dev" },
    role: { type: "string", default: "developer" },
    agents: { type: "string" },
    ttl: { type: "string", default: "12h" },
  },
});
if (!ROLES.includes(values.role)) {
  console.error(`--role must be one of ${ROLES.join(", ")}`);
  process.exit(2);
}
const secret = process.env.JWT_SECRET ?? ensureDevVars().JWT_SECRET;
if (!secret) {
  console.error("No JWT_SECRET in the environment or .dev.vars");
  process.exit(2);
}
const claims = { role: values.role, ...(values.agents ? { agents: values.agents.split(",").map((s) => s.trim()).filter(Boolean) } : {}) };
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(values.sub)
  .setIssuedAt()
  .setExpirationTime(values.ttl)
  .sign(new TextEncoder().encode(secret));
process.stdout.write(`${token}\n`);
