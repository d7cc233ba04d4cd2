import { Testing } from "cdktf";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDockerRun, sysctlsOf, logsOf, withOurs, type DockerFlags } from "../helpers/docker-run";
import { resolveRef, resourcesByPath, synthDeployment, type TfJson } from "../helpers/synth";

type Flags = Omit<DockerFlags, "labels" | "envFiles">;

/**
 * The documented differences from the guide's commands (docs/differences-from-guide.md):
 * POSTGRES_PASSWORD is the image's alias of POSTGRESQL_PASSWORD; *_DAEMON_USER is a no-op in the
 * image (the daemon user is hard-coded postgres); the repmgr password is its own secret; the image
 * tag defaults to latest.
 */
function normalizeEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k === "POSTGRES_DAEMON_USER" || k === "POSTGRESQL_DAEMON_USER") continue;
    const key = k === "POSTGRES_PASSWORD" ? "POSTGRESQL_PASSWORD" : k;
    out[key] = /PASSWORD$/.test(key) ? "<secret>" : v;
  }
  return out;
}

function parseGuide(): Map<string, Flags> {
  const text = readFileSync(join(__dirname, "../fixtures/guide-single-region-docker-run.txt"), "utf8");
  const out = new Map<string, Flags>();
  for (const block of text.split(/^### /m).slice(1)) {
    const [title, ...rest] = block.split("\n");
    const { labels, envFiles, ...f } = parseDockerRun(rest.join("\n"));
    expect([labels, envFiles]).toEqual([[], []]);
    out.set(title!.trim(), { ...f, env: normalizeEnv(f.env) });
  }
  return out;
}

function containerFlags(json: TfJson, c: Record<string, unknown>): Flags {
  const env: Record<string, string> = {};
  for (const e of c.env as string[]) {
    const [k, ...v] = e.split("=");
    env[k!] = v.join("=");
  }
  return {
    name: c.name as string,
    restart: c.restart as string,
    image: resolveRef(json, c.image) as string,
    ports: (c.ports as Array<{ internal: number; external: number }>).map((p) => `${p.external}:${p.internal}`),
    env: normalizeEnv(env),
    volumes: (c.volumes as Array<Record<string, string>>).map((v) => `${v.host_path ?? resolveRef(json, v.volume_name)}:${v.container_path}`),
    shm: c.shm_size === 1024 ? "1g" : `${String(c.shm_size)}m`,
    addHosts: (c.host as Array<{ host: string; ip: string }>).map((h) => `${h.host}:${h.ip}`),
    sysctls: sysctlsOf(c),
    ...logsOf(c),
    stopSignal: c.stop_signal as string,
    stopTimeout: String(c.stop_timeout),
  };
}

describe("single-region stack", () => {
  const { json, text } = synthDeployment(example);
  const containers = resourcesByPath(json, "docker_container");

  it("matches the guide's docker run commands for pg-1, pg-2 and pgw-1, flag by flag", () => {
    const guide = parseGuide();
    expect([...guide.keys()]).toEqual(["pg-1", "pg-2", "pgw-1"]);
    for (const [name, expected] of guide) {
      const c = containers.get(`single-region/${name}/container`);
      expect(c, `container of ${name}`).toBeDefined();
      // Beyond the guide: the TCP settings that bound a dead connection (docs/reliability.md#a-location-cut-and-tcp), the rotated log,
      // and on data nodes the failover validation's mount.
      expect(containerFlags(json, c!)).toEqual(withOurs(expected));
    }
  });

  it("sets secrets from sensitive variables only", () => {
    for (const v of ["db_password", "repmgr_password", "fortigate_token"]) {
      expect(json.variable![v]).toMatchObject({ sensitive: true, type: "string" });
      expect(json.variable![v]).not.toHaveProperty("default");
    }
    const pg1 = containers.get("single-region/pg-1/container")!;
    expect(pg1.env).toContain("POSTGRESQL_PASSWORD=${var.db_password}");
    expect(pg1.env).toContain("REPMGR_PASSWORD=${var.repmgr_password}");
  });

  it("reaches each DB host through its own docker provider over SSH", () => {
    expect(json.provider!.docker!.map((p) => p.host)).toEqual(["ssh://root@192.168.1.21:22", "ssh://root@192.168.1.22:22", "ssh://root@192.168.1.23:22"]);
    expect(containers.get("single-region/pgw-1/container")!.provider).toBe("docker.pgw_1");
  });

  it("keeps data volumes on destroy and re-apply (prevent_destroy)", () => {
    const volumes = Object.values(json.resource.docker_volume!);
    expect(volumes.map((v) => v.name).sort()).toEqual(["pg_1_data", "pg_2_data", "pgw_1_data"]);
    for (const v of volumes) expect(v.lifecycle).toEqual({ prevent_destroy: true });
    for (const i of Object.values(json.resource.docker_image!)) expect(i.keep_locally).toBe(true);
  });

  it("rotates every DB container's log, and a daemon's own log-opts read back do not replace the containers", () => {
    expect(containers.size).toBe(3);
    for (const [path, c] of containers) {
      expect([c.log_driver, c.log_opts], path).toEqual(["json-file", { "max-size": "50m", "max-file": "5" }]);
      // the daemon merges its daemon.json log-opts into the container's, and the provider reads them back
      expect(c.lifecycle, path).toEqual({ ignore_changes: ["log_opts"] });
    }
    const daemon = resourcesByPath(
      synthDeployment({ ...example, database: { ...example.database, docker: { logs: { driver: "daemon" } } } }).json,
      "docker_container",
    );
    for (const [path, c] of daemon) {
      expect([c.log_driver, c.log_opts], path).toEqual([undefined, undefined]);
      expect(c.lifecycle, path).toEqual({ ignore_changes: ["log_opts"] });
    }
  });

  it("loads the image from the tarball keyed on its sha256, and writes PGTune's extra.conf on data nodes only", () => {
    const prep = resourcesByPath(json, "terraform_data");
    const pg1 = prep.get("single-region/pg-1/prepare")!;
    expect((pg1.triggers_replace as Record<string, string>).image).toBe(
      example.database.image!.source!.kind === "tarball" ? example.database.image!.source!.sha256 : "",
    );
    const stepScript = (r: Record<string, unknown>) =>
      (r.provisioner as Array<Record<string, Record<string, string>>>).find((p) => p.file?.destination?.endsWith("/script.sh"))!.file!.content!;
    const script = stepScript(pg1);
    expect(script).toContain("work_mem = 480kB");
    expect(script).toContain("docker load -i '/root/forticlientems_postgres-ha.tar.gz'");
    expect(script).toContain("sha256sum -c");
    const w = prep.get("single-region/pgw-1/prepare")!;
    expect(stepScript(w)).not.toContain("extra.conf");
  });

  it("orders the deployment: primary, standby, witness, primary ready, EMS primary, EMS secondary, FortiGate", () => {
    const td = resourcesByPath(json, "terraform_data");
    const dep = (r: Record<string, unknown> | undefined) => (r?.depends_on as string[]) ?? [];
    expect(dep(containers.get("single-region/pg-2/container")).some((x) => x.startsWith("docker_container.pg-1_container"))).toBe(true);
    // One container after the other: pgw-1 after pg-2, which is after pg-1.
    expect(dep(containers.get("single-region/pgw-1/container")).filter((x) => x.startsWith("docker_container."))).toEqual([
      expect.stringMatching(/^docker_container\.pg-2_container/),
    ]);
    expect(dep(td.get("single-region/primary-ready/wait")).filter((x) => x.startsWith("docker_container.")).length).toBe(3);
    expect(dep(td.get("single-region/ems-1/install"))).toEqual([expect.stringMatching(/^terraform_data\.primary-ready_wait/)]);
    expect(dep(td.get("single-region/ems-2/install"))).toEqual([expect.stringMatching(/^terraform_data\.ems-1_install/)]);
    const vip = Object.values(json.resource.fortios_firewall_vip!)[0]!;
    expect(dep(vip)).toEqual(expect.arrayContaining([expect.stringMatching(/ems-2_install/)]));
  });

  it("runs the EMS installer over SSH with the DB password in a file, never in the script", () => {
    const td = resourcesByPath(json, "terraform_data");
    const ems2 = td.get("single-region/ems-2/install")!;
    const provs = ems2.provisioner as Array<Record<string, Record<string, unknown>>>;
    const files = provs.filter((p) => p.file).map((p) => p.file!);
    expect(files.find((f) => f.destination === ".ems-ha/run/install-ems/secrets/db_password")!.content).toBe("${var.db_password}");
    // The runner places the password where the install script reads it, and the installer in the install directory.
    const runner = files.find((f) => f.destination === ".ems-ha/run/install-ems/run.sh")!.content as string;
    expect(runner).toContain('install -m 0600 "$here/secrets/"db_password /var/lib/ems-ha/secrets/db_password');
    expect(runner).toContain('mv -f "$here/files/0" /opt/ems-ha/installer/forticlientems_7.4.4.2034.F.bin');
    // Absolute at synth: cdktf runs Terraform in cdktf.out/stacks/<stack>/.
    expect(files.find((f) => f.destination === ".ems-ha/run/install-ems/files/0")!.source).toBe(join(process.cwd(), "forticlientems_7.4.4.2034.F.bin"));
    const script = files.find((f) => f.destination === ".ems-ha/run/install-ems/script.sh")!.content as string;
    expect(script).toContain("--db_host 192.168.1.21,192.168.1.22 --db_port 5432 --db_user postgres");
    expect(script).toContain("--skip_db_deploy");
    expect(script).not.toContain("var.db_password");
    expect((ems2.connection as Record<string, unknown>).private_key).toContain(`fileexists("${join(process.env.HOME || homedir(), ".ssh/id_ed25519")}")`);
  });

  it("configures the FortiGate as the guide's step 6", () => {
    expect(Testing.toHaveResourceWithProperties(text, "fortios_firewall_ldbmonitor", { type: "tcp", interval: 10, timeout: 2, retry: 3, port: 8013 })).toBe(
      true,
    );
    const vips = Object.values(json.resource.fortios_firewall_vip!);
    expect(vips.map((v) => Number(v.extport)).sort((a, b) => a - b)).toEqual([443, 8013, 8015, 8871, 10443]);
    for (const v of vips) {
      expect(v).toMatchObject({ type: "server-load-balance", server_type: "tcp", ldb_method: "first-alive", extip: "172.16.1.50", extintf: "port1" });
      expect((v.realservers as Array<{ id: number; ip: string }>).map((r) => [r.id, r.ip])).toEqual([
        [1, "192.168.1.10"],
        [2, "192.168.1.11"],
      ]);
    }
    const policy = Object.values(json.resource.fortios_firewall_policy!)[0]!;
    expect(policy).toMatchObject({
      policyid: 1000,
      srcaddr: [{ name: "all" }],
      service: [{ name: "ALL" }],
      inspection_mode: "proxy",
      srcintf: [{ name: "port1" }],
      dstintf: [{ name: "port2" }],
    });
    expect((policy.dstaddr as Array<{ name: string }>).length).toBe(5);
    // TLS is verified by default, against the CA bundle (made absolute at synth).
    expect(json.provider!.fortios![0]).toMatchObject({
      hostname: "192.168.1.1",
      token: "${var.fortigate_token}",
      insecure: false,
      cabundlefile: join(process.cwd(), "fortigate-ca.pem"),
    });
  });

  it("adds 8443 with Chromebook, 80 with ACME and one policy per extra EMS subnet", () => {
    const { json: j } = synthDeployment({
      ...example,
      fortigate: { ...example.fortigate!, chromebook: true, acme: true, extraEmsSubnets: [{ outgoingInterface: "port3" }] },
    });
    expect(
      Object.values(j.resource.fortios_firewall_vip!)
        .map((v) => Number(v.extport))
        .sort((a, b) => a - b),
    ).toEqual([80, 443, 8013, 8015, 8443, 8871, 10443]);
    const policies = Object.values(j.resource.fortios_firewall_policy!).sort((a, b) => (a.policyid as number) - (b.policyid as number));
    expect(policies.map((p) => [p.policyid, (p.dstintf as Array<{ name: string }>)[0]!.name])).toEqual([
      [1000, "port2"],
      [1001, "port3"],
    ]);
  });

  it("prints the GUI checklist with the deployment's own values", () => {
    const list = json.output!.gui_checklist!.value as string[];
    expect(list.join("\n")).toContain("ha.privatehyperv.com");
    expect(list.join("\n")).toContain("172.16.1.50");
    expect(list.join("\n")).toContain("10 seconds");
  });
});
