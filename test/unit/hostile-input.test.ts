/**
 * Every reproducer of the hostile-input run: crashes (stack traces, exit 1), values accepted but
 * rendered wrongly, and analysis that ran for minutes. Each must end as a ConfigError (exit 2)
 * naming the field, or as a correct result.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import nativeExample from "../../examples/native-single-region";
import singleExample from "../../examples/single-region";
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";
import { ConfigError, type ConfigIssue } from "../../src/config/errors";
import { readDeploymentInput } from "../../src/config/load";
import { parseDeployment, safeParseDeployment } from "../../src/config/parse";
import { pgtuneForNode, pgtuneSettings } from "../../src/render/pgtune";
import { tempDir } from "../helpers/tmp";

const dir = tempDir("ems-ha-hostile-");
let fileNo = 0;

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}
type Any = any;
const single = (): Any => clone(singleExample);
const native = (): Any => clone(nativeExample);

function writeJson(value: unknown, ext = ".json"): string {
  const p = join(dir, `d${fileNo++}${ext}`);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

async function check(path: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => void (out += `${t}\n`), err: (t) => void (err += `${t}\n`), cwd: dir, env: {} };
  const code = await runCli(["check", "--config", path], io);
  return { code, out, err };
}

/** The issues of a rejected deployment; fails the test when it is accepted or throws anything else. */
function rejected(input: unknown): ConfigIssue[] {
  const r = safeParseDeployment(input);
  if (r.ok) throw new Error("expected the deployment to be rejected");
  return [...r.issues];
}

function issueAt(input: unknown, path: string): ConfigIssue {
  const issues = rejected(input);
  const i = issues.find((x) => x.path === path);
  if (!i) throw new Error(`no issue at ${path}; got ${issues.map((x) => x.path).join(", ")}`);
  return i;
}

describe("crashes become ConfigErrors (exit 2)", () => {
  it("ems-ha check with an initialPrimary that names no node exits 2 naming the field", async () => {
    const d = single();
    d.database.initialPrimary = "pg-9";
    const r = await check(writeJson(d));
    expect(r.code).toBe(2);
    expect(r.err).toContain("database.initialPrimary");
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a node named constructor (names were looked up in a plain object) is a clean error, not a crash", async () => {
    // The config checks use Maps now; the name is still refused because the constructs library
    // keeps construct ids in a plain object and synth would fail on it.
    for (const topology of ["single-region", "vm-appliances"]) {
      const d = single();
      d.topology = topology;
      d.emsNodes[1].name = "constructor";
      const i = issueAt(d, "emsNodes[1].name");
      expect(i.message).toMatch(/construct ids/);
      const r = await check(writeJson(d));
      expect(r.code).toBe(2);
      expect(r.err).toContain("emsNodes[1].name");
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it("a 10,000-deep nested value is reported, not a stack overflow", async () => {
    let deep: unknown = "x";
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    const d = single();
    d.name = deep;
    d.ems.extra = deep;
    let err: unknown;
    try {
      parseDeployment(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain("name");
    expect((err as ConfigError).message.length).toBeLessThan(5_000);
    // The same through a JSON file (written by hand: JSON.stringify itself overflows on it).
    const p = join(dir, "deep.json");
    const text = JSON.stringify(single()).replace('"name":"ems"', `"name":${'{"a":'.repeat(10_000)}"x"${"}".repeat(10_000)}`);
    writeFileSync(p, text);
    const r = await check(p);
    expect(r.code).toBe(2);
    expect(r.err).toContain("name: Expected string, received object");
  });

  it("a config with an unknown extension is refused by name, never require()d", () => {
    const p = writeJson(single(), ".yaml");
    expect(() => readDeploymentInput(p)).toThrow(ConfigError);
    try {
      readDeploymentInput(p);
    } catch (e) {
      expect((e as ConfigError).message).toContain(p);
      expect((e as ConfigError).message).toContain(".yaml");
    }
  });

  it("JSON under a .ts name, a syntax error and a throwing module: exit 2 naming the file", async () => {
    const json = join(dir, "json-as.ts");
    writeFileSync(json, JSON.stringify(single(), null, 2));
    const syntax = join(dir, "syntax.ts");
    writeFileSync(syntax, "export default { topology: ;\n");
    const throwing = join(dir, "throwing.js");
    writeFileSync(throwing, "throw new Error('boom while loading');\n");
    for (const p of [json, syntax, throwing]) {
      const r = await check(p);
      expect(r.code, p).toBe(2);
      expect(r.err, p).toContain(p);
      expect(r.err, p).not.toMatch(/\n\s+at /);
    }
    expect((await check(throwing)).err).toContain("boom while loading");
  });

  it('ssh.privateKeyPath containing " is rejected at check (it failed later in Fn.pathexpand)', () => {
    const d = single();
    d.emsNodes[0].ssh.privateKeyPath = '~/.ssh/id"x';
    const i = issueAt(d, "emsNodes[0].ssh.privateKeyPath");
    expect(i.message).toMatch(/quote/);
  });

  it("ramGb 1e-9 is rejected; PGTune is never reached with it", () => {
    const d = single();
    d.database.nodes[0].ramGb = 1e-9;
    expect(issueAt(d, "database.nodes[0].ramGb").fix).toMatch(/0\.25/);
  });
});

describe("accepted but wrong, now rejected", () => {
  it("colliding native node ids are found by check, not only by synth", async () => {
    const d = native();
    d.database.nodes[0].nodeId = 2; // dbnode-2 gets 2 from its position
    const i = issueAt(d, "database.nodes[1].nodeId");
    expect(i.message).toMatch(/node id 2/);
    const r = await check(writeJson(d));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/node id 2/);
  });

  it("nodeId 1e21 (rendered 1e+21) and 0 are rejected", () => {
    const d = native();
    d.database.nodes[0].nodeId = 1e21;
    expect(issueAt(d, "database.nodes[0].nodeId").fix).toMatch(/2147483647/);
  });

  it("ramGb 0.001 is rejected; the smallest accepted RAM keeps maintenance_work_mem >= 1MB", () => {
    const d = single();
    d.database.nodes[0].ramGb = 0.001;
    issueAt(d, "database.nodes[0].ramGb");
    const conf = pgtuneForNode({ ramGb: 0.25, cpus: 1, storage: "ssd" }, 1092);
    const kb = /maintenance_work_mem = (\d+)(kB|MB|GB)/.exec(conf)!;
    const inKb = Number(kb[1]) * (kb[2] === "GB" ? 1024 * 1024 : kb[2] === "MB" ? 1024 : 1);
    expect(inKb).toBeGreaterThanOrEqual(1024);
    // Even a direct call with tiny RAM never goes below PostgreSQL's minimum.
    const tiny = pgtuneSettings({ ramBytes: 1024 * 1024, cpus: 1, storage: "ssd" }).find((s) => s.key === "maintenance_work_mem")!;
    expect(tiny.value).toBe("1MB");
  });

  it("CIDRs with an impossible prefix are rejected", () => {
    const d = native();
    d.native.clientNetworks = ["10.0.0.0/99", "fd00::/999", "10.0.0.0/8", "fd00::/8", "300.1.1.0/24"];
    const issues = rejected(d).filter((i) => i.path.startsWith("native.clientNetworks"));
    expect(issues.map((i) => i.path).sort()).toEqual(["native.clientNetworks[0]", "native.clientNetworks[1]", "native.clientNetworks[4]"]);
  });

  it("hostnames 999.999.999.999 and 1.2.3.4.5 are errors", () => {
    const d = single();
    d.ems.fqdn = "999.999.999.999";
    d.fortigate.address = "1.2.3.4.5";
    issueAt(d, "ems.fqdn");
    issueAt(d, "fortigate.address");
  });

  it("a schema typo does not hide the keep-alive check: both in one run", () => {
    const d = single();
    d.emsNodes[0].lcation = "dc1";
    d.ems.keepaliveSeconds = 99;
    const paths = rejected(d).map((i) => i.path);
    expect(paths).toContain("emsNodes[0]");
    expect(paths).toContain("ems.keepaliveSeconds");
  });
});
