/**
 * Reproducers of the hostile-input findings: each value lands in generated text exactly as
 * configured, and nothing in it runs. The deployments bypass the schema (test/render/lib/deployments.ts):
 * the renderers must be safe on their own. Scripts are traced by test/render/lib/shell-trace.ts
 * (bash parses and expands them for real; no command runs).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applianceSecretFilesCommand } from "../../src/render/appliance";
import { dockerRunCommand, containerSpec } from "../../src/render/bitnami";
import { envFileContent, renderContainerScript } from "../../src/render/docker-cli";
import { renderHostPrepScript } from "../../src/render/docker-host";
import { fortigateObjects, renderFortiOsCli } from "../../src/render/fortios";
import { DB_PASSWORD_FILE, EMS_STATE_DIR, SECRET_DIR, renderEmsInstallScript, renderEmsPrepareCommand } from "../../src/render/installer";
import { renderStandaloneDbScript, STANDALONE_PASSWORD_FILE } from "../../src/render/standalone-db";
import {
  nodeUpgrade,
  renderEnvFileCheck,
  renderUpgradeStartScript,
  upgradeDockerRunCommand,
  upgradeEnvFileContent,
  upgradeOrder,
  upgradeRunArgs,
} from "../../src/render/upgrade";
import { example, hostile } from "./lib/deployments";
import { tokenizeFortiOs } from "./lib/fortios-cli";
import { syntaxErrors, traceScript, traceScripts } from "./lib/shell-trace";

const PWNED = "/tmp/ems-ha-pwned-marker";
/** The payload ran: a `touch` of one of the markers (other touch commands of the scripts are theirs). */
const payloadRan = (cmds: string[][]) => cmds.some((c) => c[0] === "touch" && c.slice(1).some((a) => a.startsWith("/tmp/ems-ha-pwned")));
const withArg = (cmds: string[][], name: string, first: string) => cmds.filter((c) => c[0] === name && c[1] === first);

describe("shell, as root: installer.installDir", () => {
  const dir = `/opt/x;touch ${PWNED}`;
  const d = hostile("single-region", (x) => (x.installer.installDir = dir));

  it("the EMS prepare command (remote-exec) creates the directory named, and runs nothing else", async () => {
    const t = await traceScript(renderEmsPrepareCommand(d));
    expect(t.commands).toEqual([
      ["mkdir", "-p", dir, EMS_STATE_DIR],
      ["install", "-d", "-m", "700", SECRET_DIR],
    ]);
  });

  it("the install script creates and enters the directory named, and never runs touch", async () => {
    const t = await traceScript(renderEmsInstallScript(d, d.emsNodes[0]!, { primary: true, dbHosts: ["10.0.0.1"] }));
    expect(payloadRan(t.commands)).toBe(false);
    expect(withArg(t.commands, "mkdir", "-p")).toContainEqual(["mkdir", "-p", dir]);
    expect(t.commands).toContainEqual(["cd", dir]);
  });

  it("an apostrophe (/opt/o'brien) still gives a script bash accepts", async () => {
    const o = hostile("single-region", (x) => (x.installer.installDir = "/opt/o'brien"));
    const s = renderEmsInstallScript(o, o.emsNodes[0]!, { primary: true, dbHosts: ["10.0.0.1"] });
    expect(await syntaxErrors([s, renderEmsPrepareCommand(o)])).toEqual([]);
    expect((await traceScript(s)).commands).toContainEqual(["cd", "/opt/o'brien"]);
  });
});

describe("shell, as root: database.confDir", () => {
  const conf = `/opt/c d;touch ${PWNED}`;
  const check = async (script: string) => {
    const t = await traceScript(script);
    expect(payloadRan(t.commands)).toBe(false);
    expect(t.commands).toContainEqual(["mkdir", "-p", conf]);
    expect(t.commands).toContainEqual(["chgrp", "-R", "root", conf]);
    expect(t.commands).toContainEqual(["chmod", "-R", "g+rwX", conf]);
  };

  it("host preparation: mkdir, chgrp, chmod get the directory as one word", async () => {
    const d = hostile("single-region", (x) => (x.database.confDir = conf));
    const node = d.database.nodes[0]!;
    await check(renderHostPrepScript(d, node, containerSpec(d, node).extraConf, containerSpec(d, node).repmgrFiles));
  });

  it("the upgrade's load step likewise", async () => {
    const d = hostile("upgrade-7-4-4", (x) => (x.database.confDir = conf));
    const u = upgradeOrder(d)[0]!;
    await check(renderHostPrepScript(d, u.node, u.spec.extraConf, u.spec.repmgrFiles));
  });
});

describe("shell, as root: image path, name and tag inside double quotes", () => {
  const path = `/root/$(touch ${PWNED}).tar.gz`;
  const name = "ems`touch /tmp/ems-ha-pwned-2`";
  const tag = `$(touch ${PWNED})"x`;
  const d = hostile("single-region", (x) => {
    x.database.image.name = name;
    x.database.image.tag = tag;
    x.database.image.source.path = path;
  });

  it("nothing runs, and the words carry the values", async () => {
    const node = d.database.nodes[0]!;
    const t = await traceScript(renderHostPrepScript(d, node, containerSpec(d, node).extraConf, containerSpec(d, node).repmgrFiles));
    expect(payloadRan(t.commands)).toBe(false);
    expect(t.commands).toContainEqual(["docker", "image", "inspect", `${name}:${tag}`]);
    expect(t.commands).toContainEqual(["echo", `${"0".repeat(64)}  ${path}`]);
  });
});

describe("docker_run_commands (text for people to paste)", () => {
  it("single-region: image, registry and confDir quoted", async () => {
    const conf = "/srv/my conf;id";
    const d = hostile("single-region", (x) => {
      x.database.confDir = conf;
      x.database.image.tag = "$(id)";
      x.database.image.source = { kind: "registry", registry: "reg.example.com/a b" };
    });
    const node = d.database.nodes[0]!;
    const t = await traceScript(dockerRunCommand(containerSpec(d, node)));
    expect(t.commands).toHaveLength(1);
    const argv = t.commands[0]!;
    expect(argv).toContain(`${conf}:/bitnami/postgresql/conf/conf.d`);
    expect(argv[argv.length - 1]).toBe("reg.example.com/a b/ems-postgres-ha:$(id)");
  });

  it("upgrade: the command people paste runs exactly the stack's arguments", async () => {
    const d = hostile("upgrade-7-4-4", (x) => {
      x.database.confDir = "/srv/c d";
      x.database.image.tag = "t;id";
      x.upgrade.renameSuffix = "-old $(id)";
    });
    for (const u of upgradeOrder(d)) {
      const t = await traceScript(upgradeDockerRunCommand(d, u));
      expect(t.commands).toEqual([["docker", ...upgradeRunArgs(d, u)]]);
    }
  });
});

describe("FortiOS CLI", () => {
  const parse = (vdom: string | undefined, change: (x: any) => void = () => {}) => {
    const d = hostile("single-region", change);
    return tokenizeFortiOs(renderFortiOsCli(fortigateObjects(d, d.fortigate!), vdom));
  };

  it("edit <vdom> is one quoted word: a space or quote adds no token", () => {
    const cmds = parse('root "x" y');
    expect(cmds.slice(0, 2)).toEqual([
      ["config", "vdom"],
      ["edit", 'root "x" y'],
    ]);
  });

  it("a newline in vdom is refused, naming the field", () => {
    expect(() => parse("root\nconfig system admin")).toThrow(/vdom.*control character/);
  });

  it("interface names: a quote does not break out, a newline is refused", () => {
    const cmds = parse(undefined, (x) => (x.fortigate.incomingInterface = 'port1" set x "y'));
    expect(cmds).toContainEqual(["set", "extintf", 'port1" set x "y']);
    expect(cmds).toContainEqual(["set", "srcintf", 'port1" set x "y']);
    expect(() => parse(undefined, (x) => (x.fortigate.outgoingInterface = "port2\nend"))).toThrow(/control character/);
  });
});

describe("secrets", () => {
  const SENTINEL = "SeNtInEl-pw-91";
  /** `cat` of a secret file prints the sentinel; every command line is then searched for it. */
  const withSecretCat = (script: string) =>
    [
      `cat() { case "$1" in */secrets/*) builtin printf '%s' ${SENTINEL};; esac; __rec cat "$@"; }`,
      // the installer is run by a path (./forticlientems_...): a function of that name records it
      `./forticlientems_7.4.4.2034.F.bin() { __rec "$FUNCNAME" "$@"; }`,
      script,
    ].join("\n");

  it("the standalone DB script never opens its secrets directory and keeps the password off every command line", async () => {
    const d = example("standalone-db");
    const s = renderStandaloneDbScript(d, d.standalone as any);
    const t = await traceScript(withSecretCat(s));
    const chmods = t.commands.filter((c) => c[0] === "chmod" && c.some((w) => w.includes("/secrets")));
    for (const c of chmods) expect(c[1], c.join(" ")).toMatch(/^0?[0-7]00$/);
    expect(t.commands.filter((c) => c.some((w) => w.includes(SENTINEL)))).toEqual([]);
    expect(t.commands).toContainEqual(["trap", `rm -f ${STANDALONE_PASSWORD_FILE}`, "EXIT"]);
  });

  it("the EMS install script puts the password on one command line only: the vendor installer's (documented)", async () => {
    const d = example("single-region");
    const t = await traceScript(withSecretCat(renderEmsInstallScript(d, d.emsNodes[0]!, { primary: true, dbHosts: ["10.0.0.1"] })));
    const exposed = t.commands.filter((c) => c.some((w) => w.includes(SENTINEL)));
    expect(exposed.map((c) => c[0])).toEqual(["./forticlientems_7.4.4.2034.F.bin"]);
    expect(t.commands).toContainEqual(["trap", `rm -f ${DB_PASSWORD_FILE}`, "EXIT"]);
  });

  it("an env file value with a newline is refused at render", () => {
    expect(() => upgradeEnvFileContent({ dbPassword: "a\nREPMGR_PASSWORD=x", repmgrPassword: "b" })).toThrow(/newline/);
    expect(upgradeEnvFileContent({ dbPassword: "a b'\"$x", repmgrPassword: "c" })).toBe("POSTGRESQL_PASSWORD=a b'\"$x\nREPMGR_PASSWORD=c\n");
  });

  it("the start step refuses an env file whose secret held a newline (a value from Terraform, unknown at render)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ems-ha-envfile-"));
    const run = (content: string) => {
      const f = join(dir, "x.env");
      writeFileSync(f, content);
      return spawnSync("bash", ["-c", `set -euo pipefail\nfail() { echo "$*" >&2; exit 1; }\n${renderEnvFileCheck(f)}\necho ok`], {
        encoding: "utf8",
        timeout: 10_000,
      });
    };
    expect(run("POSTGRESQL_PASSWORD=a b\nREPMGR_PASSWORD=c\n").stdout).toBe("ok\n");
    const bad = run("POSTGRESQL_PASSWORD=a\nREPMGR_PASSWORD=x\nREPMGR_PASSWORD=c\n");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/newline/);
    expect(run("POSTGRESQL_PASSWORD=a\nEVIL=1\nREPMGR_PASSWORD=c\n").status).toBe(1);
    const d = example("upgrade-7-4-4");
    const start = renderUpgradeStartScript(d, nodeUpgrade(d, d.database.nodes[0]!));
    const check = start.indexOf(renderEnvFileCheck(nodeUpgrade(d, d.database.nodes[0]!).envFile).split("\n")[0]!);
    expect(check).toBeGreaterThan(0);
    const runAt = start.indexOf("docker run ");
    expect(runAt).toBeGreaterThan(0);
    expect(check).toBeLessThan(runAt);
  });
});

describe("local-exec on the machine running Terraform (VM appliances)", () => {
  it("the secret files command writes to the files named, whatever the node name", async () => {
    const name = `ems 1;touch ${PWNED}`;
    const t = await traceScript(applianceSecretFilesCommand(".ems-ha-secrets", `.ems-ha-secrets/${name}.db`, `.ems-ha-secrets/${name}.login`));
    expect(payloadRan(t.commands)).toBe(false);
    expect(t.commands).toEqual([
      ["umask", "077"],
      ["mkdir", "-p", ".ems-ha-secrets"],
    ]);
  });
});

describe("the tracer itself", () => {
  it("sees an injected command (so the checks above can fail)", async () => {
    const [t] = await traceScripts([`mkdir -p /opt/x;touch ${PWNED}`]);
    expect(t!.commands).toEqual([
      ["mkdir", "-p", "/opt/x"],
      ["touch", PWNED],
    ]);
  });
});

describe("shell, as root: the ssh engine's container script", () => {
  const d = example("single-region");
  const base = containerSpec(d, d.database.nodes[0]!);
  const name = `pg-1";touch ${PWNED};"'$(touch ${PWNED}-2)`;
  const spec = { ...base, name, volumes: base.volumes.map((v) => (v.volumeName ? { ...v, volumeName: `v$(touch ${PWNED}-3)` } : v)) };

  it("a hostile container or volume name is data in every command, and runs nothing", async () => {
    const { script } = renderContainerScript(spec, { image: "ems-postgres-ha:latest" });
    expect(await syntaxErrors([script])).toEqual([]);
    const t = await traceScript(script);
    expect(payloadRan(t.commands)).toBe(false);
    expect(t.commands.filter((c) => c[0] === "docker" && c[1] === "volume")).toContainEqual(["docker", "volume", "inspect", `v$(touch ${PWNED}-3)`]);
  });

  it("the env file (docker --env-file: KEY=value, not shell) keeps a value literally and refuses a line break, naming the variable, not the value", () => {
    expect(envFileContent(base, { dbPassword: "a b'\"$x", repmgrPassword: "c" })).toBe("POSTGRESQL_PASSWORD=a b'\"$x\nREPMGR_PASSWORD=c\n");
    for (const bad of ["Secret-1\nX=1", "Secret-1\r"]) {
      expect(() => envFileContent(base, { dbPassword: "ok", repmgrPassword: bad })).toThrow(/REPMGR_PASSWORD contains a newline, carriage return or NUL/);
      expect(() => envFileContent(base, { dbPassword: "ok", repmgrPassword: bad })).not.toThrow(/Secret-1/);
    }
  });
});
