/**
 * What a first real deploy needs from the synthesized JSON: host keys verified on every
 * connection and by the docker provider, the node's key on every connection, sudo for a
 * non-root login, nothing under /root, Docker installed before anything talks to the engine,
 * PostgreSQL stopped gracefully, containers an operator stopped left stopped, the FortiGate
 * policy placed deliberately and its TLS verified. The runner's cleanup is run in bash.
 */
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { homedir } from "node:os";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { describe, expect, it } from "vitest";
import geo from "../../examples/geo-redundant";
import native from "../../examples/native-single-region";
import single from "../../examples/single-region";
import standalone from "../../examples/standalone-db";
import upgrade from "../../examples/upgrade-7-4-4";
import { runRules, synthFindings } from "../../src/analysis/rules";
import { ConfigError } from "../../src/config/errors";
import { pinnedHostKey } from "../../src/config/host-keys";
import { checkLocalFiles, resolveLocalPaths } from "../../src/config/local-files";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { renderRunner } from "../../constructs/remote-script";
import { withDockerAccess } from "../../constructs/docker-host-prepare";
import { synthDeployment, type TfJson } from "../helpers/synth";
import { tempDir } from "../helpers/tmp";

type Input = DeploymentInput & {
  emsNodes: Array<{ name: string; address: string; ssh?: object }>;
  database: { nodes: Array<{ name: string; address: string; ssh?: object }> };
};

/** A stable fake ed25519 public key per host (what ssh-keyscan would print after the name). */
function keyOf(address: string): string {
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, address)]);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

/** Every host logs in as `user` with its own pinned key. */
function pinned(input: DeploymentInput, user = "ems"): DeploymentInput {
  const d = input as Input;
  const ssh = (n: { address: string; ssh?: object }) => ({
    ...n,
    ssh: { ...(n.ssh ?? {}), user, privateKeyPath: "/keys/id_ed25519", hostKey: keyOf(n.address) },
  });
  return { ...d, emsNodes: d.emsNodes.map(ssh), database: { ...d.database, nodes: d.database.nodes.map(ssh) } } as DeploymentInput;
}

type Prov = Record<string, { inline?: string[]; destination?: string; content?: string; source?: string }>;
type Conn = { host: string; user: string; host_key?: string; private_key?: string };

function withConnections(json: TfJson): Array<[string, { connection: Conn; provisioner: Prov[] }]> {
  return Object.entries(json.resource.terraform_data ?? {})
    .filter(([, r]) => r.connection)
    .map(([id, r]) => [id, r as unknown as { connection: Conn; provisioner: Prov[] }]);
}

/** The Docker DB containers through the ssh engine (docker CLI over SSH) instead of the docker provider. */
function sshEngine(input: DeploymentInput): DeploymentInput {
  return { ...input, database: { ...input.database, docker: { engine: "ssh" } } };
}

const EXAMPLES: Array<[string, DeploymentInput]> = [
  ["single-region", single],
  ["geo-redundant", geo],
  ["single-region (ssh engine)", sshEngine(single)],
  ["geo-redundant (ssh engine)", sshEngine(geo)],
  ["native-single-region", native],
  ["standalone-db", standalone],
  ["upgrade-7-4-4", upgrade],
];

describe.each(EXAMPLES)("%s with pinned host keys and a non-root sudo user", (_name, example) => {
  const { json } = synthDeployment(pinned(example));
  const steps = withConnections(json);

  it("verifies the host key and uses the node's private key on every connection", () => {
    expect(steps.length).toBeGreaterThan(0);
    for (const [id, r] of steps) {
      expect(r.connection.host_key, `${id}: host_key`).toBe(keyOf(r.connection.host));
      expect(r.connection.private_key, `${id}: private_key`).toContain('file("/keys/id_ed25519")');
      expect(r.connection.user).toBe("ems");
    }
  });

  it("runs every step through sudo, from the login user's own directory, never /root", () => {
    for (const [id, r] of steps) {
      const runs = r.provisioner.flatMap((p) => p["remote-exec"]?.inline ?? []).filter((l) => l.includes("/run.sh"));
      expect(runs, id).toHaveLength(1);
      if (!id.startsWith("db-reachable")) expect(runs[0], id).toMatch(/^sudo -n bash \.ems-ha\/run\/[\w.-]+\/run\.sh$/);
      for (const p of r.provisioner) {
        if (p.file) expect(p.file.destination, id).toMatch(/^\.ems-ha\/run\/[\w.-]+\//);
        for (const l of p["remote-exec"]?.inline ?? []) expect(l, id).not.toContain("/root/");
      }
    }
  });

  it("ssh engine: a container step per DB node, its env file a secret file of the run directory, placed by the runner", () => {
    const containers = steps.filter(([id]) => /_container_/.test(id));
    if (!_name.includes("ssh engine")) {
      expect(containers).toEqual([]);
      return;
    }
    expect(containers.map(([id]) => id.replace(/_container_.*/, "")).sort()).toEqual((example as Input).database.nodes.map((n) => n.name).sort());
    for (const [id, r] of containers) {
      const files = r.provisioner.filter((p) => p.file).map((p) => p.file!);
      expect(
        files.filter((f) => f.content?.includes("${var.")).map((f) => f.destination),
        id,
      ).toEqual([expect.stringMatching(/^\.ems-ha\/run\/container-[\w.-]+\/secrets\/env$/)]);
      const runner = files.find((f) => f.destination?.endsWith("/run.sh"))!.content!;
      expect(runner, id).toMatch(/^install -m 0600 "\$here\/secrets\/"env \/var\/lib\/ems-ha\/secrets\/container-[\w.-]+\.env$/m);
    }
  });

  it("uploads every local file from an absolute path", () => {
    for (const [id, r] of steps) for (const p of r.provisioner) if (p.file?.source) expect(isAbsolute(p.file.source), `${id}: ${p.file.source}`).toBe(true);
  });
});

describe("host keys", () => {
  it("without a pinned key: no host_key (Terraform accepts any key), and check warns naming every host", () => {
    const unpinned = { ...single, ssh: {} };
    const { json } = synthDeployment(unpinned);
    for (const [id, r] of withConnections(json)) expect(r.connection.host_key, id).toBeUndefined();
    for (const p of json.provider!.docker!) expect((p.ssh_opts as string[]).some((o) => o.startsWith("UserKnownHostsFile="))).toBe(false);
    const hits = runRules(parseDeployment(unpinned)).filter((f) => f.ruleId === "ssh-host-key-unverified");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.nodes.sort()).toEqual(["ems-1", "ems-2", "pg-1", "pg-2", "pgw-1"]);
  });

  it("ssh.strictHostKeys refuses at synth a host whose key is not pinned", () => {
    const input = pinned({ ...single, ssh: {} }) as Input;
    const d = parseDeployment({ ...input, ssh: { strictHostKeys: true }, emsNodes: [{ ...input.emsNodes[0]!, ssh: { user: "root" } }, input.emsNodes[1]!] });
    expect(
      runRules(d)
        .filter((f) => f.level === "error")
        .map((f) => [f.ruleId, f.nodes]),
    ).toEqual([["ssh-host-key-required", ["ems-1"]]]);
    expect(() => synthFindings(d, () => undefined)).toThrow(ConfigError);
    expect(runRules(parseDeployment({ ...pinned(single), ssh: { strictHostKeys: true } })).filter((f) => f.level === "error")).toEqual([]);
  });

  it("the docker provider checks the pinned key strictly, from an absolute known_hosts file written at synth", () => {
    const { json } = synthDeployment(pinned(single));
    const providers = json.provider!.docker!;
    expect(providers).toHaveLength(3);
    for (const p of providers) {
      const opts = p.ssh_opts as string[];
      expect(opts).toEqual(expect.arrayContaining(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-i", "/keys/id_ed25519"]));
      const file = opts.find((o) => o.startsWith("UserKnownHostsFile="))!.slice("UserKnownHostsFile=".length);
      expect(isAbsolute(file)).toBe(true);
      const address = /@([\d.]+):/.exec(p.host as string)![1]!;
      expect(readFileSync(file, "utf8")).toBe(`${address} ${keyOf(address)}\n`);
    }
  });

  it("takes keys from the deployment's known_hosts file (non-default port as [host]:port)", () => {
    const dir = tempDir("ems-ha-kh-");
    const file = join(dir, "known_hosts");
    const input = { ...single, ssh: {} } as Input;
    const withPort = { ...input, database: { ...input.database, nodes: input.database.nodes.map((n) => ({ ...n, ssh: { ...(n.ssh ?? {}), port: 2222 } })) } };
    const lines = [
      ...input.emsNodes.map((n) => `${n.address} ${keyOf(n.address)}`),
      ...input.database.nodes.map((n) => `[${n.address}]:2222 ${keyOf(n.address)}`),
    ];
    writeFileSync(file, `# pinned\n${lines.join("\n")}\n`);
    const { json } = synthDeployment({ ...withPort, ssh: { knownHostsFile: file, strictHostKeys: true } } as DeploymentInput);
    for (const [id, r] of withConnections(json)) expect(r.connection.host_key, id).toBe(keyOf(r.connection.host));
    // The ssh engine's steps too (the DB containers over SSH without a docker provider).
    const sshSteps = withConnections(synthDeployment(sshEngine({ ...withPort, ssh: { knownHostsFile: file, strictHostKeys: true } } as DeploymentInput)).json);
    expect(sshSteps.filter(([id]) => /_container_/.test(id))).toHaveLength(input.database.nodes.length);
    for (const [id, r] of sshSteps) expect(r.connection.host_key, id).toBe(keyOf(r.connection.host));
    for (const p of json.provider!.docker!) expect(p.ssh_opts).toEqual(expect.arrayContaining([`UserKnownHostsFile=${file}`, "StrictHostKeyChecking=yes"]));
    expect(
      runRules(parseDeployment({ ...withPort, ssh: { knownHostsFile: file, strictHostKeys: true } } as DeploymentInput)).filter((f) =>
        f.ruleId.startsWith("ssh-host-key"),
      ),
    ).toEqual([]);
  });

  it("the examples pin their hosts' keys (examples/known_hosts): host_key on every connection", () => {
    const { json } = synthDeployment(single);
    const kh = readFileSync(join(__dirname, "../../examples/known_hosts"), "utf8");
    for (const [id, r] of withConnections(json)) expect(kh, id).toContain(`${r.connection.host} ${r.connection.host_key}\n`);
  });

  it("warns when a host names no private key (Terraform then needs an ssh agent)", () => {
    const input = pinned({ ...single, ssh: {} }) as Input;
    const d = parseDeployment({
      ...input,
      emsNodes: [{ ...input.emsNodes[0]!, ssh: { user: "root", hostKey: keyOf(input.emsNodes[0]!.address) } }, input.emsNodes[1]!],
    });
    const hit = runRules(d).find((f) => f.ruleId === "ssh-agent-required")!;
    expect(hit.nodes).toEqual(["ems-1"]);
    expect(hit.message).toContain("no supported methods remain");
  });
});

describe("Docker DB nodes", () => {
  const { json } = synthDeployment(single);
  const ids = (type: string) => Object.keys(json.resource[type] ?? {});

  it("creates volumes and images only after the step that installs Docker", () => {
    for (const type of ["docker_volume", "docker_image", "docker_container"]) {
      for (const [id, r] of Object.entries(json.resource[type]!)) {
        const node = id.split("_")[0]!;
        expect(r.depends_on as string[], `${type}.${id}`).toEqual(
          expect.arrayContaining([expect.stringMatching(new RegExp(`^terraform_data\\.${node}_prepare_`))]),
        );
      }
    }
    expect(ids("docker_volume")).toHaveLength(3);
  });

  it("stops PostgreSQL gracefully and leaves a container an operator stopped alone", () => {
    for (const [id, c] of Object.entries(json.resource.docker_container!)) {
      expect(c.stop_signal, id).toBe("SIGINT");
      expect(c.stop_timeout as number, id).toBeGreaterThanOrEqual(60);
      expect(c.destroy_grace_seconds as number, id).toBeGreaterThanOrEqual(60);
      expect(c.must_run, id).toBe(false);
    }
  });
});

describe("non-root SSH user of a Docker DB host", () => {
  const run = (groups: string) => {
    const dir = tempDir("ems-ha-dockgrp-");
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "id"), `#!/bin/sh\necho '${groups}'\n`, { mode: 0o755 });
    writeFileSync(join(bin, "usermod"), `#!/bin/sh\necho "usermod $*" >> ${dir}/calls\n`, { mode: 0o755 });
    const r = spawnSync("bash", ["-c", withDockerAccess("#!/bin/bash\nset -euo pipefail\n", "ems")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      timeout: 10_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8") : "";
  };

  it("joins the docker group once (the provider runs docker as the SSH user), root is left alone", () => {
    expect(run("ems sudo")).toBe("usermod -aG docker ems\n");
    expect(run("ems docker sudo")).toBe("");
    expect(withDockerAccess("x\n", "root")).toBe("x\n");
    const { json } = synthDeployment(pinned(single));
    const prep = Object.entries(json.resource.terraform_data!).find(([k]) => k.startsWith("pg-1_prepare"))![1] as { provisioner: Prov[] };
    expect(prep.provisioner.find((p) => p.file?.destination?.endsWith("/script.sh"))!.file!.content).toContain("usermod -aG docker ems");
  });
});

describe("FortiGate", () => {
  it("verifies TLS by default: verifyTls without caBundleFile is a config error; verifyTls: false is a warning", () => {
    const fg = { ...single.fortigate! };
    delete (fg as { caBundleFile?: string }).caBundleFile;
    expect(() => parseDeployment({ ...single, fortigate: fg })).toThrow(/caBundleFile/);
    const d = parseDeployment({ ...single, fortigate: { ...fg, verifyTls: false } });
    expect(runRules(d).map((f) => f.ruleId)).toContain("fortigate-tls-unverified");
    const { json } = synthDeployment({ ...single, fortigate: { ...fg, verifyTls: false } });
    expect(json.provider!.fortios![0]!.insecure).toBe(true);
  });

  it("places the policy before the given policy id (a new policy lands at the bottom), and says so", () => {
    const { json } = synthDeployment({ ...single, fortigate: { ...single.fortigate!, placeBefore: 5, extraEmsSubnets: [{ outgoingInterface: "port3" }] } });
    const seqs = Object.values(json.resource.fortios_firewall_security_policyseq!).sort((a, b) => (a.policy_src_id as number) - (b.policy_src_id as number));
    expect(seqs.map((s) => [s.policy_src_id, s.alter_position, s.policy_dst_id])).toEqual([
      [1000, "before", 5],
      [1001, "after", 1000],
    ]);
    expect(seqs[0]!.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^fortios_firewall_policy\.fortigate_policy_/)]));
    expect(json.output!.fortios_cli!.value).toContain("move 1000 before 5");
    expect((json.output!.gui_checklist!.value as string[]).join("\n")).toContain("moved before policy 5");
    const plain = synthDeployment(single).json;
    expect(plain.resource.fortios_firewall_security_policyseq).toBeUndefined();
    expect((plain.output!.gui_checklist!.value as string[]).join("\n")).toContain("added at the bottom of the list");
  });
});

describe("the step runner (bash)", () => {
  it("places secrets and files as root, runs the script, and removes the secrets even when the script fails", () => {
    const dir = tempDir("ems-ha-runner-");
    const here = join(dir, "run");
    for (const d of ["secrets", "files"]) mkdirSync(join(here, d), { recursive: true });
    writeFileSync(join(here, "secrets", "db_password"), "s3cret");
    writeFileSync(join(here, "files", "0"), "payload");
    const placed = join(dir, "var", "secrets", "db_password");
    const dest = join(dir, "opt", "installer.bin");
    writeFileSync(
      join(here, "script.sh"),
      `set -e\n[ "$(cat ${placed})" = s3cret ]\n[ "$(cat ${dest})" = payload ]\n[ -f "$EMS_HA_SECRETS/db_password" ]\necho "args: $*"\nexit 7\n`,
    );
    writeFileSync(
      join(here, "run.sh"),
      renderRunner({ secretFiles: [{ name: "db_password", content: "x", path: placed }], uploads: [{ source: "x", destination: dest }], args: ["a b"] }),
    );
    const r = spawnSync("bash", [join(here, "run.sh")], { encoding: "utf8", timeout: 10_000 });
    expect(r.stdout).toContain("args: a b");
    expect(r.status).toBe(7);
    expect(existsSync(placed)).toBe(false);
    expect(existsSync(join(here, "secrets"))).toBe(false);
    expect(readFileSync(dest, "utf8")).toBe("payload");
  });
  it("leaves an existing directory's mode alone (a secret or upload next to /tmp or /etc must not chmod it)", () => {
    const dir = tempDir("ems-ha-runner-mode-");
    const here = join(dir, "run");
    for (const d of ["secrets", "files"]) mkdirSync(join(here, d), { recursive: true });
    writeFileSync(join(here, "secrets", "k"), "s3cret");
    writeFileSync(join(here, "files", "0"), "payload");
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    writeFileSync(join(here, "script.sh"), "exit 0\n");
    writeFileSync(
      join(here, "run.sh"),
      renderRunner({
        secretFiles: [{ name: "k", content: "x", path: join(shared, "k") }],
        uploads: [{ source: "x", destination: join(shared, "f.bin") }],
        installAs: join(shared, "s.sh"),
      }),
    );
    const r = spawnSync("bash", [join(here, "run.sh")], { encoding: "utf8", timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    // A directory the runner creates gets the restrictive mode.
    const fresh = join(dir, "fresh", "secrets");
    writeFileSync(join(here, "run.sh"), renderRunner({ secretFiles: [{ name: "k", content: "x", path: join(fresh, "k") }] }));
    mkdirSync(join(here, "secrets"), { recursive: true });
    writeFileSync(join(here, "secrets", "k"), "s3cret");
    expect(spawnSync("bash", [join(here, "run.sh")], { timeout: 10_000 }).status).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
  });
});

describe("local files and known_hosts", () => {
  it("resolves relative paths against the deployment's directory and ~/ against the home directory", () => {
    const d = resolveLocalPaths(parseDeployment(single), "/srv/deploy");
    expect(d.installer.source.kind === "file" && d.installer.source.path).toBe("/srv/deploy/forticlientems_7.4.4.2034.F.bin");
    expect(d.fortigate!.caBundleFile).toBe("/srv/deploy/fortigate-ca.pem");
    expect(d.emsNodes[0]!.ssh.privateKeyPath).toBe(join(process.env.HOME || homedir(), ".ssh/id_ed25519"));
    expect(resolveLocalPaths(d, "/elsewhere")).toEqual(d);
  });

  it("reports a missing file and a wrong sha256 with the field", () => {
    const dir = tempDir("ems-ha-lf-");
    writeFileSync(join(dir, "ems.bin"), "not the installer");
    const d = resolveLocalPaths(
      parseDeployment({ ...single, installer: { ...single.installer, source: { kind: "file", path: "ems.bin", sha256: "0".repeat(64) } } }),
      dir,
    );
    const issues = checkLocalFiles(d);
    expect(issues.find((i) => i.path === "installer.source.path")!.message).toMatch(/^sha256 is [0-9a-f]{64}, the deployment expects 0{64}$/);
    expect(issues.find((i) => i.path === "fortigate.caBundleFile")!.message).toBe("the file does not exist on this machine");
  });

  it("reads hashed known_hosts entries (ssh-keygen -H) and prefers the ed25519 key", () => {
    const dir = tempDir("ems-ha-khh-");
    const file = join(dir, "known_hosts");
    const salt = Buffer.from("0123456789abcdefghij");
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("10.9.8.7").digest("base64")}`;
    writeFileSync(file, `${hashed} ecdsa-sha2-nistp256 AAAAE2VjZHNh\n${hashed} ${keyOf("10.9.8.7")}\n10.9.8.8 ${keyOf("10.9.8.8")}\n`);
    expect(pinnedHostKey({ address: "10.9.8.7", ssh: { user: "root", port: 22 } }, { knownHostsFile: file, strictHostKeys: false })).toBe(keyOf("10.9.8.7"));
    expect(pinnedHostKey({ address: "10.9.8.9", ssh: { user: "root", port: 22 } }, { knownHostsFile: file, strictHostKeys: false })).toBeUndefined();
  });
});
