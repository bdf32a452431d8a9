/** Pure auth rules: role grants, role order, agent restriction, credential extraction, buckets. */
import { describe, expect, it } from "vitest";
import { credentialsFrom } from "../../src/auth/authenticate";
import { PERMISSIONS, ROLES, can, mayTouchAgent, roleRank, type Permission, type Principal, type Role } from "../../src/auth/principal";
import { principalBucket } from "../../src/auth/rate-limit";

const who = (role: Role, agents?: string[]): Principal => ({ id: "p", role, agents, via: "jwt" });
const granted = (role: Role) => PERMISSIONS.filter((p) => can(who(role), p));

describe("roles → permissions", () => {
  it.each<[Role, Permission[]]>([
    ["guest", ["state:read", "tasks:read"]],
    ["user", ["state:read", "state:write", "tasks:read", "tasks:write"]],
    ["developer", ["state:read", "state:write", "tasks:read", "tasks:write", "scaling:write", "email:send", "calls:write"]],
    [
      "admin",
      [
        "state:read",
        "state:write",
        "tasks:read",
        "tasks:write",
        "scaling:write",
        "email:send",
        "calls:write",
        "api_keys:manage",
        "deploy:generate",
      ],
    ],
  ])("%s has exactly its grants", (role, expected) => {
    expect(new Set(granted(role))).toEqual(new Set(expected));
  });

  it("super_admin has every permission", () => {
    expect(granted("super_admin")).toEqual([...PERMISSIONS]);
  });

  it("roles are cumulative: each has everything the one below has", () => {
    for (let i = 1; i < ROLES.length; i++) {
      const below = granted(ROLES[i - 1]!);
      expect(granted(ROLES[i]!)).toEqual(expect.arrayContaining(below));
      expect(granted(ROLES[i]!).length).toBeGreaterThanOrEqual(below.length);
    }
  });

  it("roleRank orders guest < user < developer < admin < super_admin", () => {
    const ranks = (["guest", "user", "developer", "admin", "super_admin"] as Role[]).map(roleRank);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(new Set(ranks).size).toBe(5);
  });
});

describe("mayTouchAgent", () => {
  it("an unrestricted principal reaches every agent", () => {
    expect(mayTouchAgent(who("guest"), "anything")).toBe(true);
  });

  it("a restricted principal reaches exactly its agents", () => {
    const p = who("admin", ["a1", "a2"]);
    expect(mayTouchAgent(p, "a1")).toBe(true);
    expect(mayTouchAgent(p, "a2")).toBe(true);
    expect(mayTouchAgent(p, "a3")).toBe(false);
    expect(mayTouchAgent(p, "a")).toBe(false);
    expect(mayTouchAgent(who("super_admin", []), "a1")).toBe(false);
  });
});

describe("credentialsFrom", () => {
  const req = (headers: Record<string, string>) => new Request("http://x/", { headers });

  it("takes the bearer token, whatever the scheme's case and spacing", () => {
    expect(credentialsFrom(req({ Authorization: "Bearer abc.def.ghi" }))).toBe("abc.def.ghi");
    expect(credentialsFrom(req({ Authorization: "bearer   abc " }))).toBe("abc");
  });

  it("falls back to X-API-Key, trimmed", () => {
    expect(credentialsFrom(req({ "X-API-Key": "  dmsa_abc  " }))).toBe("dmsa_abc");
  });

  it("prefers Authorization when both are sent", () => {
    expect(credentialsFrom(req({ Authorization: "Bearer first", "X-API-Key": "second" }))).toBe("first");
  });

  it("has nothing when neither header is sent or X-API-Key is blank", () => {
    expect(credentialsFrom(req({}))).toBeUndefined();
    expect(credentialsFrom(req({ "X-API-Key": "   " }))).toBeUndefined();
  });
});

describe("rate-limit buckets", () => {
  it("separate principals with the same id that authenticated differently", () => {
    const buckets = new Set([
      principalBucket({ id: "admin", role: "super_admin", via: "admin_key" }),
      principalBucket({ id: "admin", role: "guest", via: "jwt" }),
      principalBucket({ id: "admin", role: "guest", via: "api_key" }),
    ]);
    expect(buckets.size).toBe(3);
  });
});
