/**
 * The EMS installer stand-in, run for real (bash) in a scratch root with a fake systemctl
 * that records its calls, against a TCP listener on loopback standing for the DB port.
 * Its behaviour with real systemd units is covered on lab hosts (test/lab/lab-hosts.test.ts).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const REPO = resolve(__dirname, "../..");
const STANDIN = join(REPO, "test/standins/forticlientems-installer");
const PASSWORD = "s3cret-Pass.word";

let server: Server;
let dbPort = 0;
let closedPort = 0;
let work = "";
let root = "";
let bin = "";
let cwd = "";
let installer = "";

function listen(): Promise<Server> {
  return new Promise((res) => {
    const s = createServer((sock) => sock.end());
    s.listen(0, "127.0.0.1", () => res(s));
  });
}

beforeAll(async () => {
  server = await listen();
  dbPort = (server.address() as { port: number }).port;
  const probe = await listen(); // a port known to be closed once this listener is gone
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  // Not under /tmp (the stand-in refuses to run from there), wherever the checkout lives.
  const base = REPO.startsWith("/tmp/") || REPO === "/tmp" ? "/var/tmp/ems-ha-test-output" : join(REPO, "test-output");
  mkdirSync(base, { recursive: true });
  work = mkdtempSync(join(base, "standin-"));
  root = join(work, "root");
  bin = join(work, "bin");
  cwd = join(work, "opt/ems-ha/installer");
  for (const d of [root, bin, cwd]) mkdirSync(d, { recursive: true });
  installer = join(cwd, "forticlientems_7.4.4.2034.F.bin");
  copyFileSync(STANDIN, installer);
  chmodSync(installer, 0o755);
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> "${work}/systemctl.log"\n`, { mode: 0o755 });
});

function runInstaller(args: string[], opts: { cwd?: string; path?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(opts.path ?? installer, args, {
    cwd: opts.cwd ?? cwd,
    encoding: "utf8",
    timeout: 30_000,
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      EMS_STANDIN_ROOT: root,
      EMS_STANDIN_DB_CHECK: "tcp",
      EMS_STANDIN_ALLOW_NONROOT: "1",
      EMS_STANDIN_CONNECT_TIMEOUT: "2",
      ...opts.env,
    },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const guideArgs = (extra: string[] = [], port = dbPort) => [
  "--",
  "--db_host",
  "127.0.0.1,localhost",
  "--db_port",
  String(port),
  "--db_user",
  "postgres",
  "--db_pass",
  PASSWORD,
  "--skip_db_install",
  ...extra,
  "--allowed_hosts",
  "*",
  "--enable_remote_https",
];

const unitFiles = () => {
  const d = join(root, "etc/systemd/system");
  return existsSync(d)
    ? readdirSync(d)
        .filter((f) => f.endsWith(".service"))
        .sort()
    : [];
};
const systemctlLog = () => (existsSync(join(work, "systemctl.log")) ? readFileSync(join(work, "systemctl.log"), "utf8") : "");
const record = () => JSON.parse(readFileSync(join(root, "var/lib/ems-standin/install.json"), "utf8"));

function allFilesText(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name), "utf8"))
    .join("\n");
}

describe("forticlientems-installer stand-in", () => {
  it("installs a primary: the guide's full service list, enabled and started, flags recorded with the password masked", () => {
    const r = runInstaller(guideArgs());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const units = unitFiles();
    expect(units).toHaveLength(29);
    for (const u of [
      "apache2.service",
      "redis-server.service",
      "fcems_pgbouncer.service",
      "fcems_wspgbouncer.service",
      "fcems_monitor.service",
      "fcems_ztna.service",
      "fcems_mdmpoxy.service",
    ]) {
      expect(units).toContain(u);
    }
    expect(units.filter((u) => /pgboncer|pgrounder/.test(u))).toEqual([]);
    const unit = readFileSync(join(root, "etc/systemd/system/fcems_wspgbouncer.service"), "utf8");
    expect(unit).toContain("Description=pgBouncer for EMS WebServer service");
    expect(unit).toContain("ExecStart=/bin/sleep infinity");
    expect(unit).toContain("WantedBy=multi-user.target");
    const calls = systemctlLog().trim().split("\n");
    expect(calls[0]).toBe("daemon-reload");
    expect(calls[1].split(" ").slice(0, 2)).toEqual(["enable", "--now"]);
    expect(calls[1].split(" ").slice(2).sort()).toEqual(units);
    const rec = record();
    expect(rec).toMatchObject({
      standin: true,
      version: "7.4.4.2034",
      role: "primary",
      db_host: ["127.0.0.1", "localhost"],
      db_port: dbPort,
      db_user: "postgres",
      db_pass: "********",
      skip_db_install: true,
      skip_db_deploy: false,
      allowed_hosts: "*",
      enable_remote_https: true,
    });
    expect(allFilesText(root)).not.toContain(PASSWORD);
    expect(r.stdout).not.toContain(PASSWORD);
  });

  it("installs a secondary with --skip_db_deploy: only fcems_monitor, the two pgbouncers and redis-server", () => {
    const r = runInstaller(guideArgs(["--skip_db_deploy"]));
    expect(r.code).toBe(0);
    expect(unitFiles()).toEqual(["fcems_monitor.service", "fcems_pgbouncer.service", "fcems_wspgbouncer.service", "redis-server.service"]);
    expect(record()).toMatchObject({ role: "secondary", skip_db_deploy: true });
  });

  it("re-run as secondary after a primary install removes the primary-only services it created", () => {
    expect(runInstaller(guideArgs()).code).toBe(0);
    expect(runInstaller(guideArgs(["--skip_db_deploy"])).code).toBe(0);
    expect(unitFiles()).toHaveLength(4);
    const disable = systemctlLog()
      .split("\n")
      .find((l) => l.startsWith("disable --now"));
    expect(disable).toBeDefined();
    expect(disable).toContain("apache2.service");
    expect(disable).toContain("fcems_ztna.service");
    expect(disable).not.toContain("fcems_monitor.service");
  });

  it("accepts --flag=value forms; --db_user defaults to postgres", () => {
    const r = runInstaller(["--", "--db_host=127.0.0.1", `--db_port=${dbPort}`, `--db_pass=${PASSWORD}`, "--skip_db_install"]);
    expect(r.code).toBe(0);
    expect(record()).toMatchObject({ db_host: ["127.0.0.1"], db_user: "postgres", allowed_hosts: "", enable_remote_https: false });
  });

  // args are functions: the DB port is known only once beforeAll has run.
  const rejected: Array<{ what: string; args: () => string[]; message: RegExp }> = [
    { what: "an unknown flag", args: () => [...guideArgs(), "--db_name", "fcm"], message: /unknown option '--db_name'/ },
    {
      what: "a missing --db_host",
      args: () => guideArgs().filter((a, i, all) => a !== "--db_host" && all[i - 1] !== "--db_host"),
      message: /--db_host is missing/,
    },
    {
      what: "--db_host with a space after the comma",
      args: () => ["--", "--db_host", "127.0.0.1, localhost", "--db_pass", "x", "--skip_db_install"],
      message: /' localhost' is not an IP address or DNS name/,
    },
    { what: "a flag without its value", args: () => ["--", "--db_pass", "x", "--skip_db_install", "--db_host"], message: /--db_host needs a value/ },
    { what: "a missing --skip_db_install", args: () => guideArgs().filter((a) => a !== "--skip_db_install"), message: /--skip_db_install is missing/ },
    { what: "a missing --db_pass", args: () => ["--", "--db_host", "127.0.0.1", "--skip_db_install"], message: /--db_pass is missing/ },
    { what: "a bad port", args: () => guideArgs([], 70000), message: /--db_port '70000'/ },
    { what: "a value on a switch", args: () => ["--", "--db_host", "127.0.0.1", "--db_pass", "x", "--skip_db_install=yes"], message: /takes no value/ },
  ];
  it.each(rejected)("rejects $what with exit 2 and writes nothing", ({ args, message }) => {
    const r = runInstaller(args());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("usage:");
    expect(unitFiles()).toEqual([]);
    expect(existsSync(join(root, "var/lib/ems-standin/install.json"))).toBe(false);
    expect(systemctlLog()).toBe("");
  });

  it("refuses to run from /tmp", () => {
    const r = runInstaller(guideArgs(), { cwd: "/tmp" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/running from \/tmp.*causes issues/);
    expect(unitFiles()).toEqual([]);
  });

  it("refuses to run when it is located in /tmp", () => {
    const dir = mkdtempSync(join(tmpdir(), "standin-"));
    try {
      const copy = join(dir, "forticlientems_7.4.4.2034.F.bin");
      copyFileSync(STANDIN, copy);
      chmodSync(copy, 0o755);
      const r = runInstaller(guideArgs(), { path: copy });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/located in \/tmp/);
      expect(unitFiles()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails with exit 5 when no DB host answers on the port", () => {
    const r = runInstaller(guideArgs([], closedPort));
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`no DB host answers on port ${closedPort}`));
    expect(unitFiles()).toEqual([]);
  });

  // A fake psql that fails to connect (exit 2, as psql does) on the calls for which the bash test
  // `failsWhen` holds ($n counts the earlier calls), else answers as a primary would; a no-op sleep
  // so that the waits between looks take no time.
  function fakePsql(failsWhen: string) {
    writeFileSync(
      join(bin, "psql"),
      [
        "#!/bin/bash",
        `n=$(cat "${work}/psql.count" 2>/dev/null || echo 0); echo $((n + 1)) > "${work}/psql.count"`,
        `if ${failsWhen}; then echo 'psql: error: connection to server at "127.0.0.1", port 5432 failed: timeout expired' >&2; exit 2; fi`,
        'case "$*" in *pg_is_in_recovery*) echo f ;; *"from pg_database"*) echo 1 ;; esac',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    writeFileSync(join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  }
  const psqlCalls = () => Number(readFileSync(join(work, "psql.count"), "utf8"));

  it("logs in with psql, looking again when a login times out (a loaded DB host), then deploys the database", () => {
    fakePsql('[ "$n" -lt 4 ]'); // both hosts time out in looks 1 and 2
    const r = runInstaller(guideArgs(), { env: { EMS_STANDIN_DB_CHECK: "psql" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("no writable primary among 127.0.0.1 localhost yet (look 2 of 5)");
    expect(r.stdout).toContain("EMS database fcm deployed on 127.0.0.1");
    expect(psqlCalls()).toBe(4 + 1 + 2); // the failed looks, the one that found the primary, then the database steps
  });

  it("retries a database step whose login times out, not only the first look", () => {
    // The look succeeds; the next login (is fcm there?) times out twice.
    fakePsql('[ "$n" = 1 ] || [ "$n" = 2 ]');
    const r = runInstaller(guideArgs(), { env: { EMS_STANDIN_DB_CHECK: "psql" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("no connection to 127.0.0.1 (try 2 of 3)");
  });

  it("fails with exit 6, naming the last login error, when no look finds a writable primary", () => {
    fakePsql("true");
    const r = runInstaller(guideArgs(), { env: { EMS_STANDIN_DB_CHECK: "psql" } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("none of 127.0.0.1 localhost accepts a login as postgres as a writable primary (last: localhost: psql: error:");
    expect(r.stderr).toContain("timeout expired");
    expect(psqlCalls()).toBe(10); // five looks at two hosts
    expect(unitFiles()).toEqual([]);
  });
});
