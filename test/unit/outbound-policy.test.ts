/**
 * The outbound policy as a pure function: every range and host spelling, checked without ever
 * sending a request (the URL parser of the runtime under test canonicalises the host first).
 */
import { describe, expect, it } from "vitest";
import {
  hostInCidr,
  describeRefusal,
  outboundRefusal,
  parseAllowEntry,
  parseIPv6,
  policyFrom,
  type OutboundPolicy,
  type OutboundRule,
} from "../../src/lib/outbound-policy";

const ruleOf = (url: string, policy?: OutboundPolicy) => outboundRefusal(url, policy)?.rule ?? null;
const allow = (...entries: string[]): OutboundPolicy => ({ allowHosts: entries.map(parseAllowEntry) });

describe("scheme, credentials and form", () => {
  it.each([
    ["ftp://example.com/file", "scheme"],
    ["file:///etc/passwd", "scheme"],
    ["gopher://example.com/", "scheme"],
    ["data:text/plain,hi", "scheme"],
    ["javascript:alert(1)", "scheme"],
    ["ws://example.com/", "scheme"],
    ["http://user:pass@example.com/", "userinfo"],
    ["https://token@example.com/", "userinfo"],
    ["not a url", "invalid_url"],
    ["", "invalid_url"],
    ["/relative/path", "invalid_url"],
  ] as const)("%s → %s", (url, rule) => {
    expect(ruleOf(url)).toBe(rule);
  });
});

describe("IPv4", () => {
  it.each<[string, OutboundRule]>([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "private"],
    ["100.127.255.255", "private"],
    ["169.254.169.254", "link_local"],
    ["169.254.0.1", "link_local"],
    ["192.0.0.8", "reserved"],
    ["192.0.2.1", "reserved"],
    ["192.88.99.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["198.19.255.255", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.254", "reserved"],
    ["255.255.255.255", "broadcast"],
  ])("%s → %s", (host, rule) => {
    expect(ruleOf(`http://${host}/`)).toBe(rule);
    expect(ruleOf(`https://${host}:8443/path?q=1`)).toBe(rule);
  });

  it.each([
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
  ])("%s (public, next to a refused range) is allowed", (host) => {
    expect(outboundRefusal(`http://${host}/`)).toBeNull();
  });

  it.each([
    ["2130706433", "decimal"],
    ["127.1", "short"],
    ["127.0.1", "short, three parts"],
    ["0x7f.1", "hex"],
    ["0x7f000001", "hex, one number"],
    ["017700000001", "octal, one number"],
    ["0177.0.0.1", "octal part"],
    ["127.0.0.1.", "trailing dot"],
    ["127%2E0%2E0%2E1", "percent-encoded dots"],
    ["１２７．０．０．１", "full-width digits"],
  ])("%s (%s) is the loopback address", (host) => {
    expect(new URL(`http://${host}/`).hostname).toBe("127.0.0.1");
    expect(outboundRefusal(`http://${host}/`)).toEqual({ rule: "loopback", detail: "127.0.0.1 is in 127.0.0.0/8 (loopback)" });
  });

  it("other spellings of private and metadata addresses are caught too", () => {
    expect(ruleOf("http://0/")).toBe("unspecified");
    expect(ruleOf("http://0x0/")).toBe("unspecified");
    expect(ruleOf("http://2852039166/")).toBe("link_local"); // 169.254.169.254
    expect(ruleOf("http://0xa9.0xfe.0xa9.0xfe/")).toBe("link_local");
    expect(ruleOf("http://10.1/")).toBe("private");
    expect(ruleOf("http://0300.0250.1.1/")).toBe("private"); // 192.168.1.1
  });
});

describe("IPv6", () => {
  it.each<[string, OutboundRule]>([
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "unique_local"],
    ["fd12:3456:789a::1", "unique_local"],
    ["fe80::1", "link_local"],
    ["febf:ffff::1", "link_local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["ff05::1:3", "multicast"],
    ["64:ff9b:1::1", "private"],
    ["100::1", "reserved"],
    ["2001::1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["3fff::1", "reserved"],
    ["4000::1", "reserved"],
    ["1::1", "reserved"],
  ])("[%s] → %s", (host, rule) => {
    expect(ruleOf(`http://[${host}]/`)).toBe(rule);
  });

  it.each<[string, OutboundRule]>([
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "link_local"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["::127.0.0.1", "loopback"],
    ["::0.0.0.2", "unspecified"],
    ["::ffff:0:127.0.0.1", "loopback"],
    ["64:ff9b::127.0.0.1", "loopback"],
    ["64:ff9b::a00:1", "private"],
    ["64:ff9b::169.254.169.254", "link_local"],
    ["2002:7f00:1::", "loopback"],
    ["2002:c0a8:101::1", "private"],
    ["2002:a9fe:a9fe::", "link_local"],
  ])("[%s] embeds a refused IPv4 address → %s", (host, rule) => {
    const refusal = outboundRefusal(`http://[${host}]/`);
    expect(refusal?.rule).toBe(rule);
    expect(refusal?.detail).toMatch(/embeds \d+\.\d+\.\d+\.\d+ \(/);
  });

  it("parses every IPv6 text form into eight groups, and nothing else", () => {
    expect(parseIPv6("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6("FE80::1:2")).toEqual([0xfe80, 0, 0, 0, 0, 0, 1, 2]);
    expect(parseIPv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIPv6("::ffff:127.0.0.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
    expect(parseIPv6("1:2:3:4:5:6:10.0.0.1")).toEqual([1, 2, 3, 4, 5, 6, 0x0a00, 1]);
    for (const bad of ["", ":", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "::1.2.3", "1::2:3:4:5:6:7:8", ":1::"])
      expect(parseIPv6(bad), bad).toBeNull();
  });

  it("names the mapped form and the IPv4 range", () => {
    expect(outboundRefusal("http://[::ffff:127.0.0.1]/")).toEqual({
      rule: "loopback",
      detail: "[::ffff:7f00:1] embeds 127.0.0.1 (IPv4-mapped), which is in 127.0.0.0/8 (loopback)",
    });
  });

  it.each([
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ])("[%s] (public) is allowed", (host) => {
    expect(outboundRefusal(`http://[${host}]/`)).toBeNull();
  });
});

describe("names", () => {
  it.each<[string, OutboundRule]>([
    ["localhost", "loopback"],
    ["LOCALHOST", "loopback"],
    ["localhost.", "loopback"],
    ["api.localhost", "loopback"],
    ["a.b.localhost.", "loopback"],
    ["ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "loopback"],
    ["localhost%2E", "loopback"],
    ["printer.local", "local_name"],
    ["metadata.google.internal", "local_name"],
    ["db.internal.", "local_name"],
    ["nas.home.arpa", "local_name"],
    ["box.localdomain", "local_name"],
    ["router.lan", "local_name"],
    ["intranet", "local_name"],
    ["metadata", "local_name"],
    ["ip6-localhost", "local_name"],
  ])("%s → %s", (host, rule) => {
    expect(ruleOf(`http://${host}:8080/`)).toBe(rule);
  });

  it.each(["example.com", "api.example.com.", "localhost.example.com", "local.example.com", "münchen.de", "hooks.example.test"])(
    "%s is allowed (not resolved)",
    (host) => {
      expect(outboundRefusal(`https://${host}/`)).toBeNull();
    },
  );
});

describe("the allow-list", () => {
  it("parses host, host:port and IPv6 entries into canonical hosts", () => {
    expect(parseAllowEntry("localhost:8787")).toEqual({ hostname: "localhost", port: 8787 });
    expect(parseAllowEntry(" Hooks.Example.INTERNAL. ")).toEqual({ hostname: "hooks.example.internal" });
    expect(parseAllowEntry("127.1")).toEqual({ hostname: "127.0.0.1" });
    expect(parseAllowEntry("2130706433:9000")).toEqual({ hostname: "127.0.0.1", port: 9000 });
    expect(parseAllowEntry("[::ffff:127.0.0.1]:9")).toEqual({ hostname: "[::ffff:7f00:1]", port: 9 });
    expect(parseAllowEntry("[::1]")).toEqual({ hostname: "[::1]" });
  });

  it.each(["", "http://x.internal", "x.internal/path", "user@x.internal", "a b", "x:0", "x:65536", "x:", "[::1", "::1", "*.internal"])(
    "refuses the entry %j",
    (entry) => {
      expect(() => parseAllowEntry(entry)).toThrow(/is not a host, an IP literal or host:port/);
    },
  );

  it("matches the canonical host exactly, and the port when the entry names one", () => {
    const policy = allow("localhost:8787", "127.0.0.1", "hooks.internal:443", "[::1]:9");
    expect(outboundRefusal("http://localhost:8787/x", policy)).toBeNull();
    expect(outboundRefusal("http://LOCALHOST.:8787/x", policy)).toBeNull();
    expect(ruleOf("http://localhost:8788/x", policy)).toBe("loopback");
    expect(ruleOf("http://localhost/x", policy)).toBe("loopback");
    expect(ruleOf("http://api.localhost:8787/x", policy)).toBe("loopback");
    // Any port, any spelling of the same address.
    expect(outboundRefusal("http://127.0.0.1:1/", policy)).toBeNull();
    expect(outboundRefusal("http://2130706433:65535/", policy)).toBeNull();
    expect(ruleOf("http://127.0.0.2/", policy)).toBe("loopback");
    expect(ruleOf("http://[::ffff:127.0.0.1]/", policy)).toBe("loopback");
    // The port is the effective one: 443 for https without a port, 80 for http.
    expect(outboundRefusal("https://hooks.internal/cb", policy)).toBeNull();
    expect(outboundRefusal("http://hooks.internal:443/cb", policy)).toBeNull();
    expect(ruleOf("http://hooks.internal/cb", policy)).toBe("local_name");
    expect(ruleOf("https://a.hooks.internal/cb", policy)).toBe("local_name");
    expect(outboundRefusal("http://[::1]:9/", policy)).toBeNull();
    expect(ruleOf("http://[::1]:10/", policy)).toBe("loopback");
  });

  it("never lifts the scheme and credential rules", () => {
    const policy = allow("localhost");
    expect(ruleOf("ftp://localhost/", policy)).toBe("scheme");
    expect(ruleOf("http://user:pw@localhost/", policy)).toBe("userinfo");
  });

  it("comes from OUTBOUND_ALLOW_HOSTS (empty by default); a malformed entry names the variable", () => {
    // Plain settings objects, not the test Worker's env: only the variable under test is set.
    const settings = (vars: Record<string, string>) => vars as unknown as Env;
    expect(policyFrom(settings({})).allowHosts).toEqual([]);
    expect(policyFrom(settings({ OUTBOUND_ALLOW_HOSTS: "" })).allowHosts).toEqual([]);
    expect(policyFrom(settings({ OUTBOUND_ALLOW_HOSTS: "localhost:8787, [::1] ,10.0.0.5" })).allowHosts).toEqual([
      { hostname: "localhost", port: 8787 },
      { hostname: "[::1]" },
      { hostname: "10.0.0.5" },
    ]);
    expect(() => policyFrom(settings({ OUTBOUND_ALLOW_HOSTS: "localhost, http://x/" }))).toThrow(
      'Invalid configuration: OUTBOUND_ALLOW_HOSTS: "http://x/" is not a host, an IP literal or host:port',
    );
  });
});

it("describeRefusal names the rule and what matched", () => {
  expect(describeRefusal(outboundRefusal("http://169.254.169.254/latest/meta-data/")!)).toBe(
    "refused by the outbound policy (link_local): 169.254.169.254 is in 169.254.0.0/16 (link-local, where cloud metadata services answer)",
  );
});

describe("hostInCidr", () => {
  it("matches an address inside a range of its own family, and nothing else", () => {
    expect(hostInCidr("10.0.5.25", "10.0.5.0/24")).toBe(true);
    expect(hostInCidr("10.0.6.25", "10.0.5.0/24")).toBe(false);
    expect(hostInCidr("127.0.0.1", "127.0.0.1/32")).toBe(true);
    expect(hostInCidr("127.0.0.2", "127.0.0.1/32")).toBe(false);
    expect(hostInCidr("203.0.113.9", "0.0.0.0/0")).toBe(true);
    expect(hostInCidr("[fd00::5]", "fd00::/8")).toBe(true);
    expect(hostInCidr("[fe80::5]", "fd00::/8")).toBe(false);
    expect(hostInCidr("[::1]", "::1/128")).toBe(true);
    // Names, the other family and ranges it cannot read never match.
    expect(hostInCidr("mailpit", "10.0.0.0/8")).toBe(false);
    expect(hostInCidr("[::ffff:a00:5]", "10.0.0.0/8")).toBe(false);
    expect(hostInCidr("10.0.0.5", "fd00::/8")).toBe(false);
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/x", "300.0.0.0/8", "fd00::/129"])
      expect(hostInCidr("10.0.0.5", bad)).toBe(false);
  });
});
