/**
 * `ems-ha status --ssh-timeout`: every node's SSH port is a loopback server that accepts the
 * connection and never speaks (a hung sshd, a filtering middlebox), every PostgreSQL port refuses.
 * With the default bound the SSH handshake alone is given 10 s; with `--ssh-timeout 3` status
 * answers within a few seconds, degraded, naming each EMS node's failure. Out-of-range values are
 * bad input.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliCaptured } from "../helpers/cli";
import { loopbackPlan } from "./lib/loopback-cluster";

let tmp = "";
const silent: Server[] = [];
const sockets: Socket[] = [];
let config = "";
let env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-ssh-timeout-"));
  const plan = await loopbackPlan(5);
  const [pg1, pg2, pgw, ems1, ems2] = plan.addresses as [string, string, string, string, string];
  // a silent server on each node's address and SSH port: accepts, never writes
  for (const a of plan.addresses) {
    const srv = createServer((s) => {
      sockets.push(s);
      s.on("error", () => undefined);
    });
    silent.push(srv);
    await new Promise<void>((res, rej) => {
      srv.once("error", rej);
      srv.listen(plan.sshPort, a, () => res());
    });
  }
  const key = join(tmp, "id_ed25519");
  const kg = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], { encoding: "utf8", timeout: 20_000 });
  if (kg.status !== 0) throw new Error(`ssh-keygen (openssh-client) failed: ${kg.stderr || kg.error?.message}`);
  const ssh = { user: "root", port: plan.sshPort, privateKeyPath: key };
  config = join(tmp, "deployment.json");
  writeFileSync(
    config,
    JSON.stringify({
      topology: "native-single-region",
      name: "ssh-timeout",
      emsNodes: [
        { name: "ems-1", address: ems1, ssh },
        { name: "ems-2", address: ems2, ssh },
      ],
      database: {
        port: plan.pgPort,
        nodes: [
          { name: "pg-1", address: pg1, role: "data", ssh },
          { name: "pg-2", address: pg2, role: "data", ssh },
          { name: "pgw-1", address: pgw, role: "witness", ssh },
        ],
      },
      installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
      ems: { fqdn: "ems.example.com", vip: "192.0.2.50" },
    }),
  );
  env = { EMS_HA_DB_PASSWORD: "not-used", EMS_HA_KNOWN_HOSTS: join(tmp, "known_hosts"), HOME: tmp };
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(silent.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("ems-ha status --ssh-timeout", () => {
  it("bounds each SSH call: with 3 s, a node whose SSH never answers is reported within seconds, not after the default's 10 s handshake", async () => {
    const t0 = Date.now();
    const r = await runCliCaptured(["status", "--config", config, "--ssh-timeout", "3", "--json"], tmp, env);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.code, r.err).toBe(1);
    const s = JSON.parse(r.out) as { degraded: boolean; emsNodes: Array<{ name: string; reachable: boolean; error?: string }> };
    expect(s.degraded).toBe(true);
    expect(s.emsNodes.map((e) => [e.name, e.reachable])).toEqual([
      ["ems-1", false],
      ["ems-2", false],
    ]);
    for (const e of s.emsNodes) expect(e.error, e.name).toMatch(/time|no answer/i);
    expect(seconds).toBeLessThan(9);
  }, 60_000);

  it("is a number of seconds from 2 to 600: other values exit 2 naming the flag", async () => {
    for (const v of ["1", "601", "soon"]) {
      const r = await runCliCaptured(["status", "--config", config, "--ssh-timeout", v], tmp, env);
      expect(r.code, v).toBe(2);
      expect(r.err).toMatch(/--ssh-timeout/);
    }
  });
});
