/**
 * Hostile deployments for the property tests: the example of a topology with chosen string fields
 * replaced (after validation, so the schema does not filter anything), and a benign twin with a
 * placeholder word in each of those fields. Whatever the renderers do with the benign twin, the
 * hostile deployment must do the same with the hostile values in place of the placeholders.
 */
import fc from "fast-check";
import { containerSpec, dockerRunCommand } from "../../../src/render/bitnami";
import { renderHostPrepScript, renderWaitPrimaryScript } from "../../../src/render/docker-host";
import { fortigateObjects, renderFortiOsCli } from "../../../src/render/fortios";
import { renderEmsInstallScript, renderEmsPrepareCommand } from "../../../src/render/installer";
import { nativeMembers } from "../../../src/render/native/layout";
import { renderReconcileScript } from "../../../src/render/native/reconcile";
import { renderDockerReconcileInstallScript } from "../../../src/render/docker-reconcile";
import { renderRollingScript } from "../../../src/render/native/rolling";
import { renderSetupScript } from "../../../src/render/native/setup-script";
import { renderDbReachableCheck, renderStandaloneDbScript, standaloneServer } from "../../../src/render/standalone-db";
import {
  renderUpgradePrepareScript,
  renderUpgradeStartScript,
  renderUpgradeStopScript,
  upgradeDockerRunCommand,
  upgradeOrder,
} from "../../../src/render/upgrade";
import type { Deployment } from "../../../src/config/schema";
import { hostile, type ExampleName } from "../../render/lib/deployments";

/**
 * shell: the value only reaches shell text (any character but NUL);
 * line: it also reaches a line-based file (pg_hba.conf, postgresql.conf, repmgr.conf), where
 * control characters, quotes and backslashes are refused by design;
 * fortios: FortiOS CLI, where control characters are refused by design.
 */
export type FieldClass = "shell" | "line" | "fortios";

export interface Field {
  readonly path: string;
  readonly cls: FieldClass;
  /** A name: no '-' (volume names replace it), unique. */
  readonly name?: boolean;
  /** A directory: no trailing '/' (the renderers strip it). */
  readonly dir?: boolean;
  readonly set: (d: any, v: string) => void;
}

const f = (path: string, cls: FieldClass, set: Field["set"], extra: Partial<Field> = {}): Field => ({ path, cls, set, ...extra });

export const FIELDS: Record<ExampleName, Field[]> = {
  "single-region": [
    f("installer.installDir", "shell", (d, v) => (d.installer.installDir = v), { dir: true }),
    f("installer.source.sha256", "shell", (d, v) => (d.installer.source.sha256 = v)),
    f("database.confDir", "shell", (d, v) => (d.database.confDir = v), { dir: true }),
    f("database.repmgrConfDir", "shell", (d, v) => (d.database.repmgrConfDir = v), { dir: true }),
    f("database.image.name", "shell", (d, v) => (d.database.image.name = v)),
    f("database.image.tag", "shell", (d, v) => (d.database.image.tag = v)),
    f("database.image.source.path", "shell", (d, v) => (d.database.image.source.path = v)),
    f("database.user", "shell", (d, v) => (d.database.user = v)),
    f("database.nodes[0].name", "shell", (d, v) => (d.database.nodes[0].name = v), { name: true }),
    f("database.nodes[1].name", "shell", (d, v) => (d.database.nodes[1].name = v), { name: true }),
    f("database.nodes[2].name", "shell", (d, v) => (d.database.nodes[2].name = v), { name: true }),
    f("database.nodes[0].address", "shell", (d, v) => (d.database.nodes[0].address = v)),
    f("database.nodes[1].address", "shell", (d, v) => (d.database.nodes[1].address = v)),
    f("emsNodes[0].name", "shell", (d, v) => (d.emsNodes[0].name = v), { name: true }),
    f("emsNodes[1].name", "shell", (d, v) => (d.emsNodes[1].name = v), { name: true }),
    f("fortigate.vdom", "fortios", (d, v) => (d.fortigate.vdom = v)),
    f("fortigate.incomingInterface", "fortios", (d, v) => (d.fortigate.incomingInterface = v)),
    f("fortigate.outgoingInterface", "fortios", (d, v) => (d.fortigate.outgoingInterface = v)),
    f("ems.vip", "fortios", (d, v) => (d.ems.vip = v)),
    f("emsNodes[0].address", "fortios", (d, v) => (d.emsNodes[0].address = v)),
  ],
  "upgrade-7-4-4": [
    f("database.confDir", "shell", (d, v) => (d.database.confDir = v), { dir: true }),
    f("database.repmgrConfDir", "shell", (d, v) => (d.database.repmgrConfDir = v), { dir: true }),
    f("database.image.name", "shell", (d, v) => (d.database.image.name = v)),
    f("database.image.tag", "shell", (d, v) => (d.database.image.tag = v)),
    f("database.image.source.path", "shell", (d, v) => (d.database.image.source.path = v)),
    f("database.user", "shell", (d, v) => (d.database.user = v)),
    f("database.nodes[0].name", "shell", (d, v) => (d.database.nodes[0].name = v), { name: true }),
    f("database.nodes[1].name", "shell", (d, v) => (d.database.nodes[1].name = v), { name: true }),
    f("database.nodes[2].name", "shell", (d, v) => (d.database.nodes[2].name = v), { name: true }),
    f("database.nodes[1].address", "shell", (d, v) => (d.database.nodes[1].address = v)),
    f("upgrade.previous[0].container", "shell", (d, v) => (d.upgrade.previous[0].container = v), { name: true }),
    f("upgrade.previous[1].container", "shell", (d, v) => (d.upgrade.previous[1].container = v), { name: true }),
    f("upgrade.previous[2].volume", "shell", (d, v) => (d.upgrade.previous[2].volume = v), { name: true }),
    f("upgrade.renameSuffix", "shell", (d, v) => (d.upgrade.renameSuffix = v), { name: true }),
  ],
  "standalone-db": [
    f("database.nodes[0].name", "shell", (d, v) => (d.database.nodes[0].name = v), { name: true }),
    f("database.nodes[0].address", "line", (d, v) => (d.database.nodes[0].address = v)),
    f("database.user", "line", (d, v) => (d.database.user = v)),
    f("standalone.extensions.sha256", "shell", (d, v) => (d.standalone.extensions.sha256 = v)),
    f("installer.installDir", "shell", (d, v) => (d.installer.installDir = v), { dir: true }),
    f("emsNodes[0].name", "shell", (d, v) => (d.emsNodes[0].name = v), { name: true }),
  ],
  "native-single-region": [
    f("native.walKeepSize", "line", (d, v) => (d.native.walKeepSize = v)),
    f("native.clientNetworks[0]", "line", (d, v) => (d.native.clientNetworks = [v])),
    f("native.extensions.sha256", "shell", (d, v) => (d.native.extensions.sha256 = v)),
    f("database.nodes[0].location", "line", (d, v) => (d.database.nodes[0].location = v)),
  ],
};

/** Pieces hostile strings are made of. */
/** Pieces hostile values are made of: shell, Terraform template and FortiOS syntax, here-document markers, non-ASCII. */
export const SHELL_PIECES: readonly string[] = [
  "EOF_X",
  "$(touch /tmp/ems-ha-pwned)",
  "`touch /tmp/ems-ha-pwned`",
  "$((1+1))",
  "${HOME}",
  "${IFS}",
  "$HOME",
  "$1",
  "$@",
  "%{x}",
  "${x}",
  "'",
  '"',
  "\\",
  "\n",
  "\t",
  "\r",
  ";",
  "|",
  "&",
  "&&",
  ">",
  "<",
  "<<",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  "*",
  "?",
  "~",
  "#",
  "!",
  "=",
  " ",
  "  ",
  ",",
  ":",
  ".",
  "/",
  "é",
  "ß",
  "日本",
  "😀",
  "\u202e",
  "EMS_HA_EOF",
  "EOF",
  "EMS_HA_SQL",
  "a",
  "b",
  "x",
  "0",
];

/**
 * A hostile value for a field. With `strict` (most deployments), characters a field's class
 * refuses by design are left out, so the value is rendered; without, the renderer must either
 * render it correctly or refuse it with an UnsafeValueError.
 */
export function hostileValue(field: Field): fc.Arbitrary<(strict: boolean) => string> {
  return fc.array(fc.constantFrom(...SHELL_PIECES), { minLength: 1, maxLength: 6 }).map((ps) => (strict: boolean) => {
    let v = ps.join("");
    // eslint-disable-next-line no-control-regex
    if (strict && field.cls !== "shell") v = v.replace(/[\x00-\x1f\x7f]/g, "");
    if (strict && field.cls === "line") v = v.replace(/["'\\]/g, "");
    if (v === "") v = "x";
    if (field.name) v = v.replace(/-/g, "+");
    if (field.dir && v.endsWith("/")) v += "x";
    return v;
  });
}

export const placeholder = (i: number): string => `Qz${i}zQ`;

/** Every output of a deployment that is shell text, and its FortiOS CLI. */
export interface Rendered {
  readonly scripts: Array<{ readonly name: string; readonly text: string }>;
  readonly fortios?: string;
}

export function renderAll(topology: ExampleName, d: Deployment): Rendered {
  const scripts: Array<{ name: string; text: string }> = [];
  const add = (name: string, text: string) => scripts.push({ name, text });
  const dataHosts = d.database.nodes.filter((n) => n.role === "data").map((n) => n.address);
  if (topology !== "native-single-region") {
    d.emsNodes.forEach((n, i) => add(`install ${i}`, renderEmsInstallScript(d, n, { primary: i === 0, dbHosts: dataHosts })));
    add("prepare ems", renderEmsPrepareCommand(d));
  }
  if (topology === "single-region") {
    // The hostile names have no trailing -<number>: the semantic check (bitnami-node-names) then
    // requires nodeId, which the reconciliation service names in its script.
    const withIds: Deployment = { ...d, database: { ...d.database, nodes: d.database.nodes.map((x, i) => ({ ...x, nodeId: x.nodeId ?? 1001 + i })) } };
    for (const [i, n] of d.database.nodes.entries()) {
      const spec = containerSpec(d, n);
      add(`host prep ${n.name}`, renderHostPrepScript(d, n, spec.extraConf, spec.repmgrFiles));
      add(`docker run ${n.name}`, dockerRunCommand(spec));
      add(`reconcile ${n.name}`, renderDockerReconcileInstallScript(withIds, withIds.database.nodes[i]!));
    }
    add(
      "wait primary",
      renderWaitPrimaryScript(
        d.database.nodes[0]!.name,
        d.database.port,
        d.database.user,
        d.database.nodes.filter((n) => n.role === "data").map((n) => n.name),
      ),
    );
  }
  if (topology === "upgrade-7-4-4") {
    for (const u of upgradeOrder(d)) {
      add(`prepare ${u.node.name}`, renderUpgradePrepareScript(d, u));
      add(`stop ${u.node.name}`, renderUpgradeStopScript(d, u));
      add(`load ${u.node.name}`, renderHostPrepScript(d, u.node, u.spec.extraConf, u.spec.repmgrFiles));
      add(`start ${u.node.name}`, renderUpgradeStartScript(d, u));
      add(`docker run ${u.node.name}`, upgradeDockerRunCommand(d, u));
    }
  }
  if (topology === "standalone-db") {
    const s = d.standalone as any;
    add("standalone", renderStandaloneDbScript(d, s));
    add("reachable", renderDbReachableCheck(standaloneServer(d).address, d.database.port));
  }
  if (topology === "native-single-region") {
    for (const m of nativeMembers(d)) {
      add(`setup ${m.name}`, renderSetupScript(d, m));
      if (m.role === "data") add(`reconcile ${m.name}`, renderReconcileScript(d, m));
      add(`rolling ${m.name}`, renderRollingScript(d, m));
    }
  }
  const fortios = d.fortigate ? renderFortiOsCli(fortigateObjects(d, d.fortigate), d.fortigate.vdom) : undefined;
  return { scripts, fortios };
}

/** The deployment with `values[i]` in FIELDS[topology][i]. */
export function deploymentWith(topology: ExampleName, values: ReadonlyArray<string>): Deployment {
  return hostile(topology, (d) => FIELDS[topology].forEach((fl, i) => fl.set(d, values[i]!)));
}

/** Replaces each placeholder in `s` with its value. */
export function substitute(s: string, values: ReadonlyArray<string>): string {
  return s.replace(/Qz(\d+)zQ/g, (_, i: string) => values[Number(i)]!);
}
