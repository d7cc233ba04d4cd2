/** The value rules of src/config/values.ts, as the deployment schema applies them. */
import { describe, expect, it } from "vitest";
import nativeExample from "../../examples/native-single-region";
import singleExample from "../../examples/single-region";
import standaloneExample from "../../examples/standalone-db";
import vmExample from "../../examples/vm-appliances";
import { assertRealChecksums, placeholderChecksums } from "../../src/config/checksums";
import { ConfigError, type ConfigIssue, showValue } from "../../src/config/errors";
import { parseDeployment, safeParseDeployment, stringIssues } from "../../src/config/parse";
import { dockerImageName, dockerRegistry, dockerTag, hostnameProblem, parseCidr } from "../../src/config/values";

type Any = any;
const clone = <T>(x: T): Any => JSON.parse(JSON.stringify(x));
const REAL = "c35ff1a5d27d6710311263df9f1545b7d65e05e82ca8114622339028edb674ff";
const real = (x: unknown): Any => JSON.parse(JSON.stringify(x).replace(/"0{64}"/g, `"${REAL}"`));

function issues(input: unknown): ConfigIssue[] {
  const r = safeParseDeployment(input);
  return r.ok ? [] : r.issues;
}
function pathsOf(input: unknown): string[] {
  return issues(input).map((i) => i.path);
}

describe("host paths (installDir, confDir, image tarball)", () => {
  it.each([
    ["relative", "opt/ems", /absolute/],
    ["double quote", '/opt/e"ms', /quotes/],
    ["single quote", "/opt/e'ms", /quotes/],
    ["backtick", "/opt/`id`", /quotes/],
    ["dollar", "/opt/$HOME", /\$/],
    ["dot-dot", "/opt/../etc", /\.\./],
    ["backslash", "/opt\\ems", /backslash/],
    ["newline", "/opt/ems\nrm -rf /", /control/],
  ])("%s is refused", (_name, value, message) => {
    for (const set of [
      (d: Any) => (d.installer.installDir = value),
      (d: Any) => (d.database.confDir = value),
      (d: Any) => (d.database.image.source.path = value),
    ]) {
      const d = clone(singleExample);
      set(d);
      const found = issues(d).filter((i) => i.path.endsWith("installDir") || i.path.endsWith("confDir") || i.path.endsWith("source.path"));
      expect(found.length, value).toBeGreaterThan(0);
      expect(found.map((i) => i.message).join(" "), value).toMatch(message);
      expect(found.every((i) => i.fix.length > 0)).toBe(true);
    }
  });

  it("an ordinary absolute path with spaces or dots is accepted", () => {
    const d = clone(singleExample);
    d.installer.installDir = "/opt/ems ha/installer.d";
    d.database.confDir = "/srv/pg/./conf.d";
    expect(pathsOf(d)).toEqual([]);
  });
});

describe("local paths (installer file, extensions, private key, CA bundle, known_hosts)", () => {
  it("absolute, ~/ and relative paths are accepted", () => {
    const d = clone(singleExample);
    d.installer.source.path = "installers/forticlientems_7.4.4.2034.F.bin";
    d.emsNodes[0].ssh.privateKeyPath = "/home/op/.ssh/id_ed25519";
    d.emsNodes[1].ssh.privateKeyPath = "~/.ssh/id ed25519";
    d.fortigate.caBundleFile = "../ca.pem";
    expect(pathsOf(d)).toEqual([]);
  });

  it("quotes, $ and control characters are refused in each of them", () => {
    const n = clone(nativeExample);
    n.native.extensions.path = "./ext'.tar.gz";
    n.emsNodes[0].ssh.privateKeyPath = "~/.ssh/$KEY";
    n.fortigate.caBundleFile = "ca\u0007.pem";
    n.installer.source.path = 'x".bin';
    const s = clone(standaloneExample);
    s.standalone.extensions.path = "`id`.tar.gz";
    const v = clone(vmExample);
    v.appliances = { knownHostsPath: "~/.ssh/known_hosts\n" };
    expect(pathsOf(n)).toEqual(
      expect.arrayContaining(["native.extensions.path", "emsNodes[0].ssh.privateKeyPath", "fortigate.caBundleFile", "installer.source.path"]),
    );
    expect(pathsOf(s)).toContain("standalone.extensions.path");
    expect(pathsOf(v)).toContain("appliances.knownHostsPath");
  });
});

describe("names and identifiers", () => {
  it("ssh.user is a POSIX user name", () => {
    for (const [user, ok] of [
      ["root", true],
      ["_svc-ems1", true],
      ["Root", false],
      ["1admin", false],
      ["a".repeat(33), false],
      ["ems;id", false],
      ["", false],
    ] as const) {
      const d = clone(singleExample);
      d.emsNodes[0].ssh.user = user;
      expect(pathsOf(d).includes("emsNodes[0].ssh.user"), user).toBe(!ok);
    }
  });

  it("Docker names, tags and registries follow Docker's reference grammar", () => {
    for (const ok of ["ems-postgres-ha", "fortinet/ems-postgres-ha", "registry.example.com:5000/ems/pg__ha", "a.b_c"])
      expect(dockerImageName.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["Ems", "ems--", "-ems", "ems/", "ems pg", "ems;id", "ems:tag", "a..b"]) expect(dockerImageName.safeParse(bad).success, bad).toBe(false);
    for (const ok of ["latest", "7.4.4_2034-r1", "_x"]) expect(dockerTag.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["", ".x", "-x", "a b", "x".repeat(129), "t$(id)"]) expect(dockerTag.safeParse(bad).success, bad).toBe(false);
    for (const ok of ["", "registry.example.com", "registry.example.com:5000/ems", "[fd00::1]:5000", "localhost/ems/"])
      expect(dockerRegistry.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["https://registry.example.com", "reg istry", "reg;istry", "registry.example.com/Ems"])
      expect(dockerRegistry.safeParse(bad).success, bad).toBe(false);
  });

  it("FortiOS names: interfaces at most 15 characters, VDOMs at most 31, no spaces or quotes", () => {
    const d = clone(singleExample);
    d.fortigate.incomingInterface = "port1-is-too-long";
    d.fortigate.outgoingInterface = 'port"2';
    d.fortigate.vdom = "v".repeat(32);
    d.fortigate.extraEmsSubnets = [{ outgoingInterface: "port 3" }];
    expect(pathsOf(d)).toEqual(
      expect.arrayContaining([
        "fortigate.incomingInterface",
        "fortigate.outgoingInterface",
        "fortigate.vdom",
        "fortigate.extraEmsSubnets[0].outgoingInterface",
      ]),
    );
    const ok = clone(singleExample);
    ok.fortigate.incomingInterface = "internal1.100";
    ok.fortigate.vdom = "v".repeat(31);
    expect(pathsOf(ok)).toEqual([]);
  });

  it("locations, acknowledgement rule ids and reasons are bounded", () => {
    const d = clone(singleExample);
    d.emsNodes[0].location = "dc 1";
    d.acknowledgements = [{ rule: "Even Voting", reason: "x".repeat(1001) }];
    expect(pathsOf(d)).toEqual(expect.arrayContaining(["emsNodes[0].location", "acknowledgements[0].rule", "acknowledgements[0].reason"]));
  });
});

describe("addresses", () => {
  it("CIDRs are parsed: the prefix length fits the family", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ address: "10.0.0.0", family: 4, prefix: 8 });
    expect(parseCidr("fd00::/128")).toMatchObject({ family: 6, prefix: 128 });
    for (const bad of [
      "10.0.0.0/33",
      "10.0.0.0/99",
      "fd00::/129",
      "fd00::/999",
      "10.0.0.0",
      "10.0.0.0/",
      "10.0.0.0/08",
      "10.0.0/8",
      "fe80::1%eth0/64",
      "10.0.0.0/8/8",
      "/8",
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it("host names follow RFC 1123; an all-numeric dotted name must be a valid IPv4 address", () => {
    for (const ok of ["10.0.0.1", "ems1.example.com", "EMS-1", "a", "1a.example", `${"a".repeat(63)}.com`]) expect(hostnameProblem(ok), ok).toBeUndefined();
    for (const bad of [
      "999.999.999.999",
      "1.2.3.4.5",
      "10.20.0.311",
      "1.2.3",
      "123",
      "-ems.example.com",
      "ems-.example.com",
      "ems..example.com",
      "ems.example.com.",
      `${"a".repeat(64)}.com`,
      "ems_1.example.com",
      "ems 1",
      "",
    ]) {
      expect(hostnameProblem(bad), bad).toBeDefined();
    }
  });

  it("where an IPv4 address is needed, a DNS name or 10.20.0.311 is an error naming the field", () => {
    const d = clone(singleExample);
    d.ems.vip = "10.20.0.311";
    d.database.nodes[0].address = "db1.example.com"; // docker --add-host
    d.emsNodes[0].address = "ems1.example.com"; // a FortiGate real server
    d.emsNodes[1].address = "10.20.0.311";
    const found = issues(d);
    const byPath = (p: string) => found.find((i) => i.path === p);
    expect(byPath("ems.vip")!.message).toMatch(/IPv4/);
    expect(byPath("database.nodes[0].address")!.message).toMatch(/--add-host needs an IPv4 address/);
    expect(byPath("emsNodes[0].address")!.message).toMatch(/real servers by IPv4/);
    expect(byPath("emsNodes[1].address")!.message).toMatch(/not a valid IPv4 address/);
  });

  it("where a DNS name works, it is accepted: native DB nodes, EMS nodes without a FortiGate, fqdn", () => {
    const n = clone(nativeExample);
    n.database.nodes[0].address = "db1.example.com";
    delete n.fortigate;
    n.emsNodes[0].address = "ems1.example.com";
    n.ems.fqdn = "ems.example.com";
    expect(pathsOf(n)).toEqual([]);
  });
});

describe("numbers", () => {
  it("nodeId 1..2^31-1, ramGb >= 0.25, cpus a whole number up to 1024", () => {
    const n = clone(nativeExample);
    n.database.nodes[0].nodeId = 2 ** 31;
    n.database.nodes[1].nodeId = 0;
    n.database.nodes[2].ramGb = 0.2;
    n.database.nodes[0].cpus = 1.5;
    n.database.nodes[1].cpus = 1025;
    expect(pathsOf(n)).toEqual(
      expect.arrayContaining([
        "database.nodes[0].nodeId",
        "database.nodes[1].nodeId",
        "database.nodes[2].ramGb",
        "database.nodes[0].cpus",
        "database.nodes[1].cpus",
      ]),
    );
    const ok = clone(nativeExample);
    ok.database.nodes[0].nodeId = 2 ** 31 - 1;
    ok.database.nodes[2].ramGb = 0.25;
    expect(pathsOf(ok)).toEqual([]);
  });

  it("container logs: maxSizeMb 1..10240 and maxFiles 1..100 whole numbers, driver json-file or daemon, no other key", () => {
    const logsOf = (logs: unknown): Any => ({ ...clone(singleExample), database: { ...clone(singleExample).database, docker: { logs } } });
    expect(pathsOf(logsOf({ maxSizeMb: 0, maxFiles: 101 }))).toEqual(["database.docker.logs.maxSizeMb", "database.docker.logs.maxFiles"]);
    expect(pathsOf(logsOf({ maxSizeMb: 2.5 }))).toEqual(["database.docker.logs.maxSizeMb"]);
    const bad = issues(logsOf({ driver: "journald", max_size: 10 }));
    expect(bad.map((i) => i.path)).toEqual(["database.docker.logs.driver", "database.docker.logs"]);
    expect(bad[0]!.message).toMatch(/json-file.*daemon/);
    expect(bad[1]!.message).toMatch(/max_size/);
    expect(pathsOf(logsOf({ maxSizeMb: 10240, maxFiles: 1 }))).toEqual([]);
    expect(parseDeployment(clone(singleExample)).database.docker.logs).toEqual({ driver: "json-file", maxSizeMb: 50, maxFiles: 5 });
  });
});

describe("${ and %{ in every string, and control characters, by one walk", () => {
  it("finds them in any field, keys included, with the path", () => {
    const d = clone(singleExample);
    d.acknowledgements = [{ rule: "even-voting-nodes", reason: "because ${var.x} said so" }];
    d.name = "%{ if x }";
    d.database.image.tag = "latest\n";
    const found = issues(d);
    expect(found.find((i) => i.path === "acknowledgements[0].reason")!.message).toMatch(/contains \$\{/);
    expect(found.find((i) => i.path === "name" && /%\{/.test(i.message))).toBeDefined();
    expect(found.filter((i) => i.path === "database.image.tag")).toHaveLength(1);
    expect(stringIssues({ a: { "${x}": 1 } }).map((i) => i.path)).toEqual(["a.${x}"]);
  });

  it("a field added to the schema later is covered without naming it", () => {
    // The walk is schema-independent: any string at any path.
    expect(stringIssues({ future: { field: ["ok", "x${y}"] } }).map((i) => i.path)).toEqual(["future.field[1]"]);
  });

  it("reports a value nested deeper than any field once, without recursion", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const found = stringIssues({ name: deep });
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/nested deeper/);
  });
});

describe("errors", () => {
  it("showValue is short and depth-safe", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(showValue(deep).length).toBeLessThanOrEqual(80);
    expect(showValue("a\nb")).toBe('"a\\nb"');
    expect(showValue(undefined)).toBe("(missing)");
    expect(showValue("x".repeat(1000))).toMatch(/\.\.\.$/);
  });

  it("schema and cross-field errors come together; cross-field issues about rejected fields are left out", () => {
    const d = clone(singleExample);
    d.database.nodes[2].name = "PGW 1"; // schema error
    d.database.nodes[1].name = "pg-1"; // duplicate: cross-field
    d.ems.keepaliveSeconds = 2; // cross-field
    const found = issues(d);
    expect(found.map((i) => i.path)).toEqual(expect.arrayContaining(["database.nodes[2].name", "database.nodes[1].name", "ems.keepaliveSeconds"]));
    expect(found.find((i) => i.path === "database.nodes[1].name")!.rule).toBe("unique-names");
    // bitnami-node-names would also complain about "PGW 1"; the schema error covers it.
    expect(found.filter((i) => i.path === "database.nodes[2].name")).toHaveLength(1);
  });
});

describe("placeholder checksums", () => {
  it("are listed per field and refused by assertRealChecksums (synth, deploy)", () => {
    const d = parseDeployment(clone(nativeExample));
    expect(placeholderChecksums(d).map((i) => i.path)).toEqual(["installer.source.sha256", "native.extensions.sha256"]);
    expect(() => assertRealChecksums(d)).toThrow(ConfigError);
    expect(() => assertRealChecksums(d)).toThrow(/installer\.source\.sha256: a placeholder/);
    const ok = parseDeployment(real(nativeExample));
    expect(placeholderChecksums(ok)).toEqual([]);
    expect(() => assertRealChecksums(ok)).not.toThrow();
    const ones = parseDeployment({
      ...real(singleExample),
      installer: { ...real(singleExample).installer, source: { kind: "url", url: "https://e.example/x.bin", sha256: "1".repeat(64) } },
    });
    expect(placeholderChecksums(ones).map((i) => i.path)).toEqual(["installer.source.sha256"]);
  });
});

describe("reserved node names", () => {
  it("refuses constructor, the stacks' own ids and, in the upgrade, another node's step id", async () => {
    const upgrade = (await import("../../examples/upgrade-7-4-4")).default;
    const d = clone(singleExample);
    d.emsNodes[0].name = "secrets";
    d.emsNodes[1].name = "constructor";
    expect(
      issues(d)
        .filter((i) => i.rule === "reserved-node-names")
        .map((i) => i.path),
    ).toEqual(["emsNodes[0].name", "emsNodes[1].name"]);
    const u = real(upgrade);
    u.emsNodes[0].name = `${u.database.nodes[0].name}-stop`;
    const found = issues(u).find((i) => i.rule === "reserved-node-names")!;
    expect(found.path).toBe("emsNodes[0].name");
    expect(found.nodes).toEqual([u.database.nodes[0].name, `${u.database.nodes[0].name}-stop`]);
  });
});
