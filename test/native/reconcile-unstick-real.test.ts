/**
 * The hung-server reset (unstick_repmgrd in src/render/native/reconcile.ts) with the real `ss` of
 * this machine, over IPv4 and IPv6 loopback: a process named repmgrd (node under that name) sends a
 * request to a server that accepts it and never answers; one round of the rendered script resets
 * that connection, and the process sees it aborted: after UNSTICK_AFTER, and (with a long
 * UNSTICK_AFTER) after UNSTICK_SILENT_AFTER because the real psql's new connection to that server
 * gets no answer within connect_timeout either. test/ops/repmgrd-hung-server.test.ts does the
 * same with a real repmgrd and PostgreSQL over IPv4; this one checks ss's output and its -K filter
 * for both address families (IPv6 addresses are printed and given in brackets).
 */
import { spawn, spawnSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { connectTimeout, memberByName } from "../../src/render/native/layout";
import { renderReconcileScript, UNSTICK_REASONS } from "../../src/render/native/reconcile";
import { spawnAsync } from "../../src/spawn-async";
import { reconcileStateOverrides } from "../helpers/reconcile";
import { tempDir } from "../helpers/tmp";

const d = parseDeployment(labDeployment("10.235.38"));
const servers: Server[] = [];
const held: Socket[] = [];

afterAll(() => {
  for (const s of held) s.destroy();
  for (const s of servers) s.close();
});

/** A server on `host` that accepts connections and never writes a byte. */
async function silentServer(host: string): Promise<number> {
  // the reset reaches the server's side as a reset connection: expected, not an error of the test
  const server = createServer((s) => held.push(s.on("error", () => undefined)));
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

/** The client, as a process whose name (comm) is repmgrd: it connects, sends, then waits. */
const CLIENT = `
const s = require("node:net").connect(Number(process.argv[3]), process.argv[2], () => {
  // as repmgrd's request comes after earlier answers: ss's lastrcv (since the connection, when
  // nothing was ever received) must be older than lastsnd
  setTimeout(() => {
    s.write("request");
    console.log("sent " + s.localPort);
  }, 300);
});
s.on("data", () => console.log("answered"));
s.on("error", (e) => { console.log("error " + e.code); process.exit(0); });
s.on("close", () => { console.log("closed"); process.exit(0); });
setTimeout(() => { console.log("still waiting"); process.exit(1); }, 20000);
`;

describe("the hung-server reset with the real ss", () => {
  const ssPresent = spawnSync("ss", ["-V"], { encoding: "utf8", timeout: 10_000 }).status === 0;

  const cases = [
    ["IPv4", "127.0.0.1", "long"],
    ["IPv6", "::1", "long"],
    ["IPv4", "127.0.0.1", "silent"],
    ["IPv6", "::1", "silent"],
  ] as const;
  for (const [family, host, why] of cases) {
    const when = why === "long" ? "past UNSTICK_AFTER" : "past UNSTICK_SILENT_AFTER, the server taking no new connection either (real psql)";
    it(`resets repmgrd's connection that waits for an answer, over ${family} (${host}), ${when}`, async () => {
      expect(ssPresent, "ss (iproute2) is needed: apt-get install iproute2").toBe(true);
      const dir = tempDir("ems-ha-unstick-real-");
      const port = await silentServer(host);
      const exe = join(dir, "repmgrd");
      symlinkSync(process.execPath, exe);
      writeFileSync(join(dir, "client.js"), CLIENT);
      const child = spawn(exe, [join(dir, "client.js"), host, String(port)], { stdio: ["ignore", "pipe", "pipe"] });
      let said = "";
      child.stdout.on("data", (b: Buffer) => (said += b.toString()));
      child.stderr.on("data", (b: Buffer) => (said += b.toString()));
      const ended = new Promise<number | null>((resolve) => child.on("exit", resolve));
      for (let i = 0; !said.includes("sent "); i++) {
        if (i > 100) throw new Error(`the client did not connect: ${said}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // past UNSTICK_AFTER or UNSTICK_SILENT_AFTER (1 s here): lastsnd >= 1000 ms, nothing received
      await new Promise((r) => setTimeout(r, 1500));

      const text = renderReconcileScript(d, memberByName(d, "dbnode-2"));
      writeFileSync(join(dir, "script"), text, { mode: 0o755 });
      writeFileSync(
        join(dir, "overrides.sh"),
        [
          ...reconcileStateOverrides(text, dir),
          ...(why === "long" ? ["UNSTICK_AFTER=1"] : ["UNSTICK_AFTER=60", "UNSTICK_SILENT_AFTER=1"]),
          `repmgrd_pids() { echo ${child.pid}; }`,
          "reconcile_once() { unstick_repmgrd; }",
          "",
        ].join("\n"),
      );
      const started = Date.now();
      const r = await spawnAsync("bash", [join(dir, "script"), "--once"], {
        env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: join(dir, "overrides.sh") },
        timeoutMs: 30_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      // the question to the server was a real psql that waited connect_timeout for an answer (not one that failed at once)
      if (why === "silent") expect(Date.now() - started).toBeGreaterThanOrEqual(connectTimeout(d) * 1000 - 100);
      const peer = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      expect(out).toMatch(new RegExp(`REPAIR: repmgrd sent a request to ${peer.replace(/[.[\]]/g, "\\$&")} \\ds ago and has had no answer`));
      expect(out).toContain(`(${why === "long" ? UNSTICK_REASONS.hung : UNSTICK_REASONS.silent})`);
      expect(out).not.toMatch(/could not reset/);
      // only the client's side was flagged: the server's side (this process, not repmgrd) is untouched
      expect(out.match(/REPAIR:/g)).toHaveLength(1);
      const code = await Promise.race([ended, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
      expect(said).toMatch(/error ECONNABORTED|closed/);
      expect(said).not.toMatch(/answered|still waiting/);
      expect(code).toBe(0);
    }, 40_000);
  }
});
