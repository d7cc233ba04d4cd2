/**
 * The appliance runner (src/ops/appliance.ts, `ems-ha appliance run`) against the stand-in
 * appliance CLI (test/standins/ems-appliance-cli.ts) on 127.0.0.1.
 */
import { writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main";
import type { CliIo } from "../../src/cli/command";
import { ApplianceError, runAppliance, type ApplianceRunOptions } from "../../src/ops/appliance";
import { StandinAppliance, StandinDatabase } from "../standins/ems-appliance-cli";
import { tempDir } from "../helpers/tmp";

const DB_PASS = "Db-Secret-4f9e2a";
const LOGIN = "Login-Secret-77c1";
const started: StandinAppliance[] = [];

async function appliance(db: StandinDatabase, extra: Partial<ConstructorParameters<typeof StandinAppliance>[0]> = {}): Promise<StandinAppliance> {
  const a = new StandinAppliance({ db, password: LOGIN, ...extra });
  await a.start();
  started.push(a);
  return a;
}

function knownHosts(...apps: StandinAppliance[]): string {
  const p = join(tempDir("ems-ha-kh-"), "known_hosts");
  writeFileSync(p, apps.map((a) => a.knownHostsLine()).join("\n") + "\n");
  return p;
}

function options(a: StandinAppliance, kh: string, over: Partial<ApplianceRunOptions> = {}): ApplianceRunOptions {
  return {
    host: "127.0.0.1",
    port: a.port,
    user: "ems",
    password: LOGIN,
    dbHost: "10.9.0.5",
    dbPort: 5432,
    dbUser: "postgres",
    dbPassword: DB_PASS,
    role: "primary",
    hostname: "EMS-1",
    prompt: /[>#$] ?$/,
    loginTimeoutMs: 5000,
    commandTimeoutMs: 5000,
    redirectTimeoutMs: 5000,
    knownHostsPath: kh,
    haAttempts: 2,
    haIntervalMs: 100,
    ...over,
  };
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop()));
});

describe("appliance runner", () => {
  it("redirects the primary then a secondary, as the guide, and checks ha get nodes", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db);
    const a2 = await appliance(db);
    const kh = knownHosts(a1, a2);
    const logs: string[] = [];
    const r1 = await runAppliance(options(a1, kh, { log: (l) => logs.push(l) }));
    expect(r1.outcome).toBe("redirected");
    expect(a1.received.map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual(["ha get", "execute ping", "system set", "redirect --db_host", "ha get"]);
    expect(a1.received[3]).toBe(`redirect --db_host 10.9.0.5 --db_pass ${DB_PASS} --db_port 5432 --db_user postgres --is_primary_node --yes`);
    const r2 = await runAppliance(options(a2, kh, { role: "secondary", hostname: "EMS-2" }));
    expect(r2.outcome).toBe("redirected");
    expect(r2.nodes.ems).toEqual([
      { name: "EMS-1", self: false, role: "primary", status: "online" },
      { name: "EMS-2", self: true, role: "standby", status: "online" },
    ]);
    expect(a2.received[3]).toContain("--is_secondary_node --yes");
    // Secrets never reach the transcript or the log, nor does the appliance's local DB password.
    for (const text of [r1.transcript, r2.transcript, logs.join("\n")]) {
      expect(text).not.toContain(DB_PASS);
      expect(text).not.toContain(LOGIN);
      expect(text).not.toContain("StandinLocalPgPw");
    }
    expect(r1.transcript).toContain("--db_pass ******** --db_port 5432");
    expect(r1.transcript).toContain("Exit Success");
  });

  it("changes nothing on a second run against an appliance already redirected", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db);
    const kh = knownHosts(a1);
    await runAppliance(options(a1, kh));
    const sent = a1.received.length;
    const again = await runAppliance(options(a1, kh));
    expect(again.outcome).toBe("unchanged");
    expect(a1.received.slice(sent)).toEqual(["ha get nodes"]);
  });

  it("after a DB password rotation: left as it is by a plain run, redirected with the new password when EMS_HA_APPLIANCE_REDIRECT_AGAIN=1", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db);
    const kh = knownHosts(a1);
    await runAppliance(options(a1, kh));
    const rotated = "Db-Rotated-9c3b11";
    db.password = rotated;
    const dir = tempDir("ems-ha-rot-");
    const argv = (): string[] => {
      writeFileSync(join(dir, "db"), `${rotated}\n`, { mode: 0o600 });
      writeFileSync(join(dir, "login"), LOGIN, { mode: 0o600 });
      const a = ["appliance", "run", "--host", "127.0.0.1", "--port", String(a1.port), "--role", "primary", "--hostname", "EMS-1"];
      return [...a, "--db-host", "10.9.0.5", "--db-password-file", "db", "--password-file", "login", "--known-hosts", kh, "--redirect-timeout", "5"];
    };
    const out: string[] = [];
    const io = (env: NodeJS.ProcessEnv): CliIo => ({ out: (t) => out.push(t), err: (t) => out.push(t), cwd: dir, env });
    const sent = a1.received.length;
    expect(await runCli(argv(), io({}))).toBe(0);
    expect(out.join("\n")).toContain("already configured, nothing changed");
    expect(a1.received.slice(sent)).toEqual(["ha get nodes"]);
    expect(await runCli(argv(), io({ EMS_HA_APPLIANCE_REDIRECT_AGAIN: "1" }))).toBe(0);
    expect(out.join("\n")).toContain("redirected as primary");
    expect(a1.received.find((c, i) => i > sent && c.startsWith("redirect "))).toContain(`--db_pass ${rotated} `);
    expect(out.join("\n")).not.toContain(rotated);
  });

  it("fails when the redirect does not end with Exit Success, with the transcript and the password masked", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", "the-password-the-db-wants");
    const a1 = await appliance(db);
    const err = await runAppliance(options(a1, knownHosts(a1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplianceError);
    const e = err as ApplianceError;
    expect(e.message).toMatch(/did not end with "Exit Success".*password authentication failed/);
    expect(e.transcript).toContain("- ERROR - password authentication failed");
    expect(e.transcript).toContain("--db_pass ********");
    expect(`${e.message}\n${e.transcript}`).not.toContain(DB_PASS);
  });

  it("fails a secondary redirected before any primary (the DB is not deployed yet)", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a2 = await appliance(db);
    await expect(runAppliance(options(a2, knownHosts(a2), { role: "secondary", hostname: "EMS-2" }))).rejects.toThrow(/redirect the primary node first/);
  });

  it("fails within its bound when the appliance never returns the prompt", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db, { redirectBehaviour: "hang" });
    const t0 = Date.now();
    const err = (await runAppliance(options(a1, knownHosts(a1), { redirectTimeoutMs: 1500 })).catch((e: unknown) => e)) as ApplianceError;
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(ApplianceError);
    expect(err.message).toMatch(/no prompt within 2 s during redirect|no prompt within 1 s during redirect/);
    expect(elapsed).toBeLessThan(5000);
    expect(err.transcript).not.toContain(DB_PASS);
  });

  it("fails when the DB host does not answer execute ping, before any redirect", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db, { reachable: [] });
    await expect(runAppliance(options(a1, knownHosts(a1)))).rejects.toThrow(/cannot reach the DB host 10.9.0.5/);
    expect(a1.received.some((c) => c.startsWith("redirect"))).toBe(false);
  });

  it("stops at the first-login password change and says what to do", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db, { mustChangePassword: true });
    await expect(runAppliance(options(a1, knownHosts(a1)))).rejects.toThrow(/first-login password change: log in once by hand/);
  });

  it("refuses an appliance whose host key is not in known_hosts, sending no credentials", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", DB_PASS);
    const a1 = await appliance(db);
    const other = await appliance(db);
    const kh = knownHosts(other);
    await expect(runAppliance(options(a1, kh))).rejects.toThrow(/is not in .*known_hosts; .*ssh-keyscan/);
    expect(a1.received).toEqual([]);
  });

  it("`ems-ha appliance run` reads the secrets from files, deletes them, and exits 1 with a masked transcript on failure", async () => {
    const db = new StandinDatabase("10.9.0.5", 5432, "postgres", "wanted-by-db");
    const a1 = await appliance(db);
    const dir = tempDir("ems-ha-sec-");
    writeFileSync(join(dir, "db"), `${DB_PASS}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "login"), LOGIN, { mode: 0o600 });
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: {} };
    const argv = [
      "appliance",
      "run",
      "--host",
      "127.0.0.1",
      "--port",
      String(a1.port),
      "--role",
      "primary",
      "--hostname",
      "EMS-1",
      "--db-host",
      "10.9.0.5",
      "--db-password-file",
      "db",
      "--password-file",
      "login",
      "--known-hosts",
      knownHosts(a1),
      "--redirect-timeout",
      "5",
    ];
    const code = await runCli(argv, io);
    expect(code).toBe(1);
    expect(existsSync(join(dir, "db"))).toBe(false);
    expect(existsSync(join(dir, "login"))).toBe(false);
    const all = [...out, ...err].join("\n");
    expect(all).toContain("appliance transcript (secrets masked)");
    expect(all).toContain("password authentication failed");
    expect(all).not.toContain(DB_PASS);
    expect(all).not.toContain(LOGIN);
  });

  it("`ems-ha appliance run` rejects a missing DB password with exit 2", async () => {
    const err: string[] = [];
    const io: CliIo = { out: () => undefined, err: (t) => err.push(t), cwd: tmpdir(), env: {} };
    const code = await runCli(["appliance", "run", "--host", "127.0.0.1", "--role", "primary", "--hostname", "EMS-1", "--db-host", "10.9.0.5"], io);
    expect(code).toBe(2);
    expect(err.join("\n")).toMatch(/--db-password-file: no DB password given.*EMS_HA_DB_PASSWORD/);
  });
});
