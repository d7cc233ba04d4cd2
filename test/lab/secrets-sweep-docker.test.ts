/**
 * Secrets through a Docker lab run (single-region, `database.docker.engine: "ssh"`, the
 * ems-postgres-ha stand-in image): the companion of secrets-sweep.test.ts for the container
 * topology. Distinctive values for every secret; deploy, `ems-ha status`, `ems-ha backup`, a drill, a re-apply;
 * process arguments sampled meanwhile; then everything written is searched: the lab state
 * directory, each host's overlay upper directory and its /var/lib/docker (a directory of the real
 * disk bound into the host), the hosts' tmpfs mounts and journals.
 *
 * By design the DB containers hold both passwords in their environment (docs/security.md), which
 * Docker keeps in /var/lib/docker/containers/<id>/config.v2.json: listed with its mode, asserted
 * 0600. Files the image itself writes inside the container are listed by path and mode (the image
 * is the vendor's; the stand-in does what the vendor's Bitnami-based image does).
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform; it FAILS naming
 * what is missing, it is never skipped.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { labSynth, terraformEnv } from "../../lab/lib/deploy";
import { waitForWitnessViews } from "../../lab/lib/docker-host";
import { labDrill } from "../../lab/lib/drill";
import { runStreaming } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import { ArgvSampler, isInstallerDbPass, startSweepCapture, maskValues, scanFiles, secretsIn, type SecretValues } from "../../lab/lib/secret-sweep";
import { hostDirs, type LabState } from "../../lab/lib/state";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { expectOnlyTheAsyncTailLost } from "../helpers/drill-loss";

process.env.EMS_HA_LAB_STATE = "/var/tmp/ems-ha-secrets-sweep";
// Not used by any other lab test (secrets-sweep.test.ts: 10.234.60-69).
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.234.${70 + i}`);

const hex = (n: number): string => randomBytes(n).toString("hex");
const SECRETS = {
  db_password: `Zq7-secret-db-${hex(9)}`,
  repmgr_password: `Zq7-secret-rm-${hex(9)}`,
  fortigate_token: `Zq7-secret-fg-${hex(9)}`,
  symmetric_key: `Zq7sk${hex(8).slice(0, 15)}`,
};
const ALL: SecretValues = SECRETS;
const CANARY = `Zq7-canary-${hex(9)}`;
/** containerd's metadata database: holds every container's spec, environment included. */
const CONTAINERD_META = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db";

let state: LabState | undefined;
let stateDir = "";
let stackDir = "";
let outDir = "";
let input: DeploymentInput;
let d: Deployment;
let sampler: ArgvSampler | undefined;
const figures: Record<string, unknown> = {};

const log = (m: string): void => {
  if (outDir) appendFileSync(join(outDir, "test.log"), `${m}\n`);
  console.log(`[secrets-sweep-docker] ${maskValues(m, ALL)}`);
};

function tfEnv(): NodeJS.ProcessEnv {
  return terraformEnv(stateDir, SECRETS);
}

async function terraform(name: string, args: string[]): Promise<{ code: number; text: string }> {
  const r = await runStreaming("terraform", args, { cwd: stackDir, env: tfEnv(), timeoutMs: 900_000 });
  const text = `${r.stdout}\n--- stderr ---\n${r.stderr}`;
  writeFileSync(join(outDir, `${name}.txt`), text);
  log(
    `terraform ${name}: exit ${r.code} ${[/Apply complete! Resources: .*/, /No changes\..*/, /Plan: .*/].map((re) => re.exec(r.stdout)?.[0]).find(Boolean) ?? ""}`,
  );
  return { code: r.code, text };
}

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker secrets sweep lab test", candidates: CANDIDATES, deployment: (p: string) => labDockerDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  ({ state, input, deployment: d } = lab);
  ({ outDir, sampler } = startSweepCapture(stateDir, SECRETS, { ...ALL, canary: CANARY }));
}, 900_000);

afterAll(async () => {
  sampler?.stop();
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

/** Mode and owner of every component of a path on a host (`namei -mo`), e.g. "/ drwxr-xr-x root, ...". */
async function pathModes(host: string, path: string): Promise<string> {
  const r = await labExec(state!, host, `namei -mo ${path}`, { timeoutMs: 30_000 });
  return r.stdout
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => `${f.slice(3).join(" ")} ${f[0]} ${f[1]}`)
    .join(", ");
}

describe("secrets through a Docker lab run (single-region, ssh engine)", () => {
  it("deploys, reports status, takes a backup, fails over and re-applies with distinctive secrets", async () => {
    await Promise.all(state!.hosts.map((h) => labExec(state!, h.name, `sleep 2; : ${CANARY}`, { timeoutMs: 30_000 })));
    stackDir = (await labSynth(state!, input, log)).stackDir;
    expect((await terraform("init", ["init", "-input=false", "-no-color"])).code).toBe(0);
    expect((await terraform("plan", ["plan", "-input=false", "-no-color"])).code).toBe(0);
    const apply = await terraform("apply-1", ["apply", "-auto-approve", "-input=false", "-no-color"]);
    expect(apply.code, maskValues(apply.text.slice(-3000), ALL)).toBe(0);
    const env = { ...tfEnv(), EMS_HA_INSECURE_HOST_KEYS: "1" };
    await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
    const st = await runStreaming(process.execPath, [join(REPO_ROOT, "bin/ems-ha.js"), "status", "--config", join(stateDir, "deployment.json")], {
      env,
      timeoutMs: 120_000,
    });
    writeFileSync(join(outDir, "status.txt"), `${st.stdout}\n--- stderr ---\n${st.stderr}`);
    expect(st.code, maskValues(st.stdout + st.stderr, ALL)).toBe(0);
    // a backup, under the argument sampler; its files land in the state directory the file sweep searches
    const bk = await runStreaming(
      process.execPath,
      [join(REPO_ROOT, "bin/ems-ha.js"), "backup", "--config", join(stateDir, "deployment.json"), "--out", join(outDir, "backup")],
      { env, timeoutMs: 180_000 },
    );
    writeFileSync(join(outDir, "backup.txt"), `${bk.stdout}\n--- stderr ---\n${bk.stderr}`);
    expect(bk.code, maskValues(bk.stdout + bk.stderr, ALL)).toBe(0);
    const r = await labDrill(state!, { log });
    figures.drill = { newPrimary: r.newPrimary, failoverSeconds: r.failoverSeconds, rowsMissing: r.rowsMissing, rejoined: r.rejoined };
    if (r.newPrimary === null) {
      // Here the drill is a failure path for the sweep; the failover itself is asserted by
      // docker-single-region.test.ts. Seen once on a loaded machine: no standby promoted in 180 s.
      log("WARNING: no standby was promoted in this drill; the failure path ran, its failover is not asserted here");
    } else {
      expectOnlyTheAsyncTailLost(r);
      expect(r.rejoined).toBe(true);
    }
    const again = await terraform("apply-2-reapply", ["apply", "-auto-approve", "-input=false", "-no-color"]);
    expect(again.code).toBe(0);
    expect(again.text).toMatch(/Resources: 0 added, 0 changed, 0 destroyed|No changes/);
  }, 1_500_000);

  it("process arguments: no secret on any command line except the documented installer --db_pass", () => {
    sampler!.stop();
    const s = sampler!;
    figures.ps = {
      samples: s.samples,
      commandLinesRead: s.commandLines,
      processesPerHost: Object.fromEntries(state!.hosts.map((h) => [h.machine, s.perMachine.get(h.machine)?.size ?? 0])),
    };
    for (const h of state!.hosts)
      expect(
        s.hits.some((x) => x.secret === "canary" && x.where === h.machine),
        `canary not seen on ${h.machine}`,
      ).toBe(true);
    const real = s.hits.filter((h) => h.secret !== "canary");
    const installer = real.filter((h) => isInstallerDbPass(h, ["db_password"]));
    figures.psKnownException = installer.length;
    if (installer.length > 0) log(`KNOWN EXCEPTION (docs/security.md): the EMS installer's --db_pass argument was seen in ${installer.length} process(es)`);
    expect(real.filter((h) => !installer.includes(h)).map((h) => `${h.where} pid ${h.pid} [${h.secret}]: ${h.command}`)).toEqual([]);
  });

  it("files: the values only in the containers' configuration (0600) and the image's own files; nowhere else", async () => {
    const tfState = join(stateDir, "tfstate");
    expect(relative(REPO_ROOT, tfState).startsWith("..")).toBe(true);
    const leaks: string[] = [];
    const local = scanFiles(stateDir, ALL, { skip: new Set([tfState, join(stateDir, "secrets.json"), join(stateDir, "hosts")]) });
    leaks.push(...local.hits.map((h) => `${h.path} [${h.secrets.join(", ")}]`));
    const containerConfig: string[] = [];
    const imageFiles: string[] = [];
    const containerdFiles: string[] = [];
    // runc's spec of a `docker exec` process (the container's environment with it), in the host's
    // /tmp while the exec starts: the reconciliation service runs docker exec every few seconds.
    const runcExecFiles: string[] = [];
    const RUNC_EXEC = /^\/tmp\/runc-process\d+$/;
    let files = local.files;
    let bytes = local.bytes;
    for (const h of state!.hosts) {
      const { upper } = hostDirs(h);
      const roots: Array<[string, string]> = [[upper, "/"]];
      if (h.docker) roots.push([join(h.dir, "docker"), "/var/lib/docker/"]);
      for (const [root, mountedAt] of roots) {
        const scan = scanFiles(root, ALL);
        files += scan.files;
        bytes += scan.bytes;
        for (const hit of scan.hits) {
          const p = `${mountedAt}${relative(root, hit.path)}`;
          const desc = `${h.name}:${p} [${hit.secrets.join(", ")}] ${hit.mode.toString(8).padStart(4, "0")} uid ${hit.uid}`;
          if (/^\/var\/lib\/docker\/containers\/[0-9a-f]{64}\/config\.v2\.json$/.test(p)) {
            containerConfig.push(desc);
            expect(hit.mode, desc).toBe(0o600);
          } else if (p === CONTAINERD_META) {
            // containerd's own record of the container (its spec, with the environment).
            containerdFiles.push(`${desc} (path ${await pathModes(h.name, p)})`);
          } else if (/^\/var\/lib\/docker\/(overlay2\/[^/]+\/diff|volumes\/[^/]+\/_data)\//.test(p)) imageFiles.push(desc);
          else if (RUNC_EXEC.test(p)) {
            runcExecFiles.push(desc);
            expect([hit.mode, hit.uid], desc).toEqual([0o600, 0]);
          } else leaks.push(desc);
        }
      }
      const j = await labExec(state!, h.name, "journalctl -o export --no-pager 2>/dev/null", { timeoutMs: 120_000 });
      for (const name of secretsIn(j.stdout, ALL)) leaks.push(`${h.name}: journal [${name}]`);
      const g = await labExec(
        state!,
        h.name,
        "grep -rlF --devices=skip -f /dev/stdin /tmp /run /dev/shm /var/tmp /root /home /etc /var/lib/ems-ha /var/log /opt 2>/dev/null; true",
        {
          input: `${Object.values(ALL).join("\n")}\n`,
          timeoutMs: 120_000,
        },
      );
      for (const p of g.stdout.split("\n").filter(Boolean)) {
        // The running container's OCI spec (with its environment), on the host's tmpfs.
        if (/^\/run\/containerd\/io\.containerd\.runtime\.v2\.task\/moby\/[0-9a-f]{64}\/config\.json$/.test(p))
          containerdFiles.push(`${h.name}:${p} (path ${await pathModes(h.name, p)})`);
        else if (RUNC_EXEC.test(p)) {
          // gone by now, or root's alone (0600)
          const st = (await labExec(state!, h.name, `stat -c '%a %u' ${p} 2>/dev/null || echo gone`, { timeoutMs: 30_000 })).stdout.trim();
          runcExecFiles.push(`${h.name}:${p} (${st}, seen from the host)`);
          expect(["600 0", "gone"], `${h.name}:${p}`).toContain(st);
        } else leaks.push(`${h.name}:${p} (seen from the host)`);
      }
    }
    figures.files = { files, bytes };
    figures.containerConfig = containerConfig;
    figures.imageFiles = imageFiles;
    figures.containerdFiles = containerdFiles;
    figures.runcExecFiles = runcExecFiles;
    figures.leaks = leaks;
    log(`FIGURES ${JSON.stringify(figures)}`);
    // Positive control: every DB container's configuration holds the passwords (the scan reads /var/lib/docker).
    expect(containerConfig.length).toBe(d.database.nodes.length);
    // meta.db on every DB host, and the task's config.json of every running container
    let running = 0;
    for (const n of d.database.nodes) running += Number((await labExec(state!, n.name, "docker ps -q | wc -l", { timeoutMs: 30_000 })).stdout.trim());
    expect(containerdFiles.length).toBe(d.database.nodes.length + running);
    // Each is 0644 as containerd writes it, but below a root-only (0700) directory.
    for (const c of containerdFiles) expect(c, c).toMatch(/drwx------ root, .*-rw-r--r-- root\)$/);
    expect(leaks).toEqual([]);
  }, 600_000);
});
