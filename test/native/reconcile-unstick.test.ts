/**
 * Which of repmgrd's connections the reconciliation service resets (unstick_repmgrd in
 * src/render/native/reconcile.ts), in real bash with a fake `ss` printing canned sockets: only an
 * established connection of repmgrd's own process that sent a request and has received nothing
 * since, for UNSTICK_AFTER seconds or more, in either of ss's layouts (details on a line of their
 * own, or one line with -O). On Docker hosts the same, in the container's network namespace
 * (fake docker and nsenter). test/ops/repmgrd-hung-server.test.ts does it for real.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { renderDockerReconcileScript } from "../../src/render/docker-reconcile";
import { memberByName } from "../../src/render/native/layout";
import { renderReconcileScript, UNSTICK_AFTER_SECONDS, UNSTICK_REASONS, UNSTICK_SILENT_AFTER_SECONDS } from "../../src/render/native/reconcile";
import { reconcileStateOverrides } from "../helpers/reconcile";
import { tempDir } from "../helpers/tmp";

/** ss -tnpiH as iproute2 prints it: a socket's line, its details indented on the next (or on the same line). */
const SOCKETS = [
  // a: repmgrd 4242, request sent 45 s ago, nothing received since: reset
  'ESTAB 0      0      127.0.0.1:55408 127.30.157.2:26193 users:(("repmgrd",pid=4242,fd=5)) timer:(keepalive,119min,0)',
  "\t ts sack bbr wscale:10,10 rto:208 rtt:6.476/11.646 bytes_sent:1248 lastsnd:45316 lastrcv:47348 lastack:45272 app_limited",
  // b: repmgrd 4242, idle, its last request answered: kept
  'ESTAB 0      0      127.0.0.1:36950 127.30.157.3:26193 users:(("repmgrd",pid=4242,fd=6))',
  "\t ts sack cubic lastsnd:51532 lastrcv:51528 lastack:51528",
  // c: repmgrd 4242, waiting 2 s only: kept, its server not even asked
  'ESTAB 0      0      127.0.0.1:36960 127.30.157.4:26193 users:(("repmgrd",pid=4242,fd=7))',
  "\t ts sack cubic lastsnd:2000 lastrcv:5000",
  // h: repmgrd 4242, waiting 5 s on a server that takes new connections (SILENT below does not list it): kept
  'ESTAB 0      0      127.0.0.1:36980 127.30.157.5:26193 users:(("repmgrd",pid=4242,fd=10))',
  "\t ts sack cubic lastsnd:5000 lastrcv:9000",
  // i: repmgrd 4242, waiting 5 s on a server that takes no new connection (listed in SILENT): reset
  'ESTAB 0 0 [::ffff:10.0.0.5]:41010 [::ffff:10.0.0.9]:5432 users:(("repmgrd",pid=4242,fd=11)) ts sack cubic lastsnd:5000 lastrcv:9000',
  // d: the WAL receiver (another process), waiting: not repmgrd's
  'ESTAB 0      0      127.0.0.1:36898 127.30.157.2:26193 users:(("postgres",pid=99,fd=4))',
  "\t ts sack cubic lastsnd:90000 lastrcv:95000",
  // e: a process whose pid starts with repmgrd's: not it
  'ESTAB 0      0      127.0.0.1:36970 127.30.157.2:26193 users:(("repmgrd",pid=42420,fd=5))',
  "\t ts sack cubic lastsnd:90000 lastrcv:95000",
  // f: repmgrd 4242 on one line (ss -O), waiting 60 s: reset
  'ESTAB 0 0 [::ffff:10.0.0.5]:41000 [::ffff:10.0.0.7]:5432 users:(("repmgrd",pid=4242,fd=8)) ts sack cubic lastsnd:60000 lastrcv:61000',
  // g: closing, not established: kept
  'FIN-WAIT-2 0 0 127.0.0.1:40538 127.30.157.2:26193 lastsnd:60000 lastrcv:61000 users:(("repmgrd",pid=4242,fd=9))',
  "",
].join("\n");

const FAKE_SS = `#!/bin/bash
echo "ss $*" >>"$FAKE_LOG"
case "$1" in
  -tnpiH) printf '%s' "$SOCKETS" ;;
  -K) exit 0 ;;
esac
`;

/** The servers that take no new connection (the service's question to them fails), as "host:port" of q_peer's arguments. */
const SILENT_PEERS = "10.0.0.9:5432 127.30.157.2:26193";
/** q_peer as the script calls it, logged; it fails for the hosts in SILENT. */
const FAKE_Q_PEER = `q_peer() { echo "q_peer $1 $2 $3" >>"$FAKE_LOG"; case " $SILENT_PEERS " in *" $1:$2 "*) return 2 ;; esac; echo 1; }`;

function run(script: string, extra: string[], bin: Record<string, string>, rounds = 1): { out: string; calls: string[] } {
  const dir = tempDir("ems-ha-unstick-");
  const binDir = join(dir, "bin");
  const st = join(dir, "state");
  for (const x of [binDir, st]) mkdirSync(x, { recursive: true });
  for (const [name, text] of Object.entries({ ss: FAKE_SS, ...bin })) {
    writeFileSync(join(binDir, name), text);
    chmodSync(join(binDir, name), 0o755);
  }
  writeFileSync(join(dir, "script"), script);
  writeFileSync(
    join(dir, "overrides.sh"),
    [...reconcileStateOverrides(script, st), FAKE_Q_PEER, ...extra, "reconcile_once() { unstick_repmgrd; }", ""].join("\n"),
  );
  const log = join(dir, "calls.log");
  let out = "";
  for (let i = 0; i < rounds; i++) {
    const r = spawnSync("bash", [join(dir, "script"), "--once"], {
      env: {
        PATH: `${binDir}:${process.env.PATH}`,
        EMS_HA_RECONCILE_OVERRIDES: join(dir, "overrides.sh"),
        FAKE_LOG: log,
        SOCKETS,
        SILENT_PEERS,
      },
      encoding: "utf8",
      timeout: 30_000,
    });
    out += `${r.stdout}${r.stderr}`;
  }
  return { out, calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [] };
}

const resets = (calls: string[]) => calls.filter((c) => / -K /.test(c));
const asked = (calls: string[]) => calls.filter((c) => c.startsWith("q_peer "));

describe("resetting a connection repmgrd waits on", () => {
  const native = renderReconcileScript(parseDeployment(labDeployment("10.235.38")), memberByName(parseDeployment(labDeployment("10.235.38")), "dbnode-2"));

  it("resets repmgrd's established connections with a request unanswered for UNSTICK_AFTER seconds, or for UNSTICK_SILENT_AFTER to a server that takes no new connection", () => {
    expect(UNSTICK_AFTER_SECONDS).toBe(15);
    expect(UNSTICK_SILENT_AFTER_SECONDS).toBe(3);
    expect(native).toMatch(/^UNSTICK_AFTER=15$/m);
    expect(native).toMatch(/^UNSTICK_SILENT_AFTER=3$/m);
    const r = run(native, ["repmgrd_pids() { echo 4242; }"], {});
    expect(resets(r.calls)).toEqual([
      "ss -K -tn src 127.0.0.1:55408 dst 127.30.157.2:26193",
      "ss -K -tn src [::ffff:10.0.0.5]:41010 dst [::ffff:10.0.0.9]:5432",
      "ss -K -tn src [::ffff:10.0.0.5]:41000 dst [::ffff:10.0.0.7]:5432",
    ]);
    // only the connections waiting 3-15 s had their server asked, the mapped IPv4 address as IPv4
    expect(asked(r.calls)).toEqual(["q_peer 127.30.157.5 26193 select 1", "q_peer 10.0.0.9 5432 select 1"]);
    expect(r.out).toContain(`REPAIR: repmgrd sent a request to 127.30.157.2:26193 45s ago and has had no answer (${UNSTICK_REASONS.hung})`);
    expect(r.out).toMatch(/REPAIR: repmgrd sent a request to \[::ffff:10\.0\.0\.7\]:5432 60s ago/);
    expect(r.out).toContain(
      `REPAIR: repmgrd sent a request to [::ffff:10.0.0.9]:5432 5s ago and has had no answer (${UNSTICK_REASONS.silent}): resetting that connection`,
    );
    expect(r.out.match(/REPAIR:/g)).toHaveLength(3);
  });

  it("waits UNSTICK_AFTER seconds: with 50 s, the 45 s wait is reset only because its server takes no new connection", () => {
    const r = run(native, ["repmgrd_pids() { echo 4242; }", "UNSTICK_AFTER=50", "UNSTICK_SILENT_AFTER=40"], {});
    expect(resets(r.calls)).toEqual([
      "ss -K -tn src 127.0.0.1:55408 dst 127.30.157.2:26193",
      "ss -K -tn src [::ffff:10.0.0.5]:41000 dst [::ffff:10.0.0.7]:5432",
    ]);
    expect(asked(r.calls)).toEqual(["q_peer 127.30.157.2 26193 select 1"]);
    const answering = run(native, ["repmgrd_pids() { echo 4242; }", "UNSTICK_AFTER=50", "UNSTICK_SILENT_AFTER=40", "SILENT_PEERS=none"], {});
    expect(resets(answering.calls)).toEqual(["ss -K -tn src [::ffff:10.0.0.5]:41000 dst [::ffff:10.0.0.7]:5432"]);
  });

  it("with UNSTICK_AFTER below UNSTICK_SILENT_AFTER, waits UNSTICK_AFTER and asks no server", () => {
    const r = run(native, ["repmgrd_pids() { echo 4242; }", "UNSTICK_AFTER=2"], {});
    expect(resets(r.calls)).toHaveLength(5);
    expect(asked(r.calls)).toEqual([]);
  });

  it("does nothing while repmgrd does not run, and says once that ss is missing", () => {
    const none = run(native, ["repmgrd_pids() { return 0; }"], {});
    expect(none.calls).toEqual([]);
    expect(none.out).toBe("");
    const noSs = run(native, ["repmgrd_pids() { echo 4242; }", "have_ss() { return 1; }"], {}, 2);
    expect(noSs.calls).toEqual([]);
    expect(noSs.out.match(/ss \(iproute2\) is not installed/g)).toHaveLength(1);
  });

  it("says so when the reset fails", () => {
    const r = run(native, ["repmgrd_pids() { echo 4242; }"], { ss: FAKE_SS.replace("-K) exit 0", "-K) exit 1") });
    expect(r.out).toMatch(/could not reset the connection 127\.0\.0\.1:55408 -> 127\.30\.157\.2:26193 \(ss -K needs CAP_NET_ADMIN/);
  });

  it("on a Docker host: repmgrd's process in the container, ss in the container's network namespace", () => {
    const d = parseDeployment(example);
    const script = renderDockerReconcileScript(
      d,
      d.database.nodes.find((n) => n.name === "pg-2")!,
    );
    const fakeDocker = `#!/bin/bash
echo "docker $*" >>"$FAKE_LOG"
case "$1 $2 $3" in
  "top pg-2 -eo") printf 'PID COMMAND\\n4242 repmgrd\\n4243 postgres\\n' ;;
  "inspect -f {{.State.Pid}}") echo 4100 ;;
  *) exit 1 ;;
esac
`;
    const fakeNsenter = `#!/bin/bash
echo "nsenter $1 $2 $3" >>"$FAKE_LOG"
shift 3
exec "$@"
`;
    const r = run(script, [], { docker: fakeDocker, nsenter: fakeNsenter });
    expect(r.calls).toContain("docker top pg-2 -eo pid,comm");
    expect(r.calls).toContain("nsenter -t 4100 -n");
    expect(resets(r.calls)).toEqual([
      "ss -K -tn src 127.0.0.1:55408 dst 127.30.157.2:26193",
      "ss -K -tn src [::ffff:10.0.0.5]:41010 dst [::ffff:10.0.0.9]:5432",
      "ss -K -tn src [::ffff:10.0.0.5]:41000 dst [::ffff:10.0.0.7]:5432",
    ]);
    // every ss ran inside the container's namespace
    const i = r.calls.findIndex((c) => c.startsWith("ss -K"));
    expect(r.calls[i - 1]).toBe("nsenter -t 4100 -n");
  });
});
