/**
 * The layout shows the architecture (aws-cdk design guidelines):
 * - stacks/ defines no construct of its own: every class there is a TerraformStack;
 * - every construct and composite of constructs/ exposes the one member to depend on,
 *   `done` (IDeployStep), and `dependsOn: [thatConstruct]` waits for exactly its `done`.
 */
import { TerraformResource, TerraformStack, Testing, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import nativeExample from "../../examples/native-single-region";
import singleRegion from "../../examples/single-region";
import standaloneExample from "../../examples/standalone-db";
import upgradeExample from "../../examples/upgrade-7-4-4";
import vmAppliancesExample from "../../examples/vm-appliances";
import * as constructs from "../../constructs";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment } from "../../src/config/schema";
import { upgradeOrder } from "../../src/render/upgrade";

const ROOT = join(__dirname, "..", "..");

/** `class X` declarations of the .ts files directly in a directory, by file. */
function classesIn(dir: string): Array<{ file: string; name: string }> {
  const out: Array<{ file: string; name: string }> = [];
  for (const file of readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, dir, file), "utf8");
    for (const m of text.matchAll(/^\s*(?:export\s+)?(?:abstract\s+)?class\s+(\w+)/gm)) out.push({ file, name: m[1]! });
  }
  return out;
}

describe("stacks/ holds stacks only", () => {
  it("every class defined in stacks/ is a TerraformStack (no Construct of its own)", async () => {
    const found = classesIn("stacks");
    expect(found.length).toBeGreaterThan(0);
    const bad: string[] = [];
    for (const { file, name } of found) {
      const mod = (await import(join(ROOT, "stacks", file))) as Record<string, unknown>;
      const cls = mod[name];
      const isStack = typeof cls === "function" && cls.prototype instanceof TerraformStack;
      if (!isStack) bad.push(`stacks/${file}: class ${name} (move it to constructs/, or export it if it is a stack)`);
    }
    expect(bad).toEqual([]);
  });
});

const docker = parseDeployment(singleRegion);
const dockerSsh = parseDeployment({ ...singleRegion, database: { ...singleRegion.database, docker: { engine: "ssh" } } });
const native = parseDeployment(nativeExample);
const standalone = parseDeployment(standaloneExample);
const appliances = parseDeployment(vmAppliancesExample);
const upgrade = parseDeployment(upgradeExample);

type Built = { step: constructs.IDeployStep; expected: ITerraformDependable[] };
type Case = (scope: TerraformStack, secrets: constructs.DeploymentSecrets) => Built;

const node = (d: Deployment, name: string) => d.database.nodes.find((n) => n.name === name)!;

/**
 * One case per class of constructs/*.ts: how to build it, and what its `done` must hold.
 * LiteralOutput is the one exception: it is a Terraform output (text for people), which
 * nothing can wait for. The FortiOS bindings (constructs/fortios/) are resources themselves.
 */
const CASES: Record<string, { deployment: Deployment; secrets?: constructs.SecretsProps; build: Case }> = {
  PgHaNode: {
    deployment: docker,
    build: (s, secrets) => {
      const n = new constructs.PgHaNode(s, "pg-1", { deployment: docker, node: node(docker, "pg-1"), secrets });
      return { step: n, expected: [n.container] };
    },
  },
  WitnessNode: {
    deployment: docker,
    build: (s, secrets) => {
      const n = new constructs.WitnessNode(s, "pgw-1", { deployment: docker, nodeName: "pgw-1", secrets });
      return { step: n, expected: [n.container] };
    },
  },
  SshPgHaNode: {
    deployment: dockerSsh,
    build: (s, secrets) => {
      const n = new constructs.SshPgHaNode(s, "pg-1", { deployment: dockerSsh, node: node(dockerSsh, "pg-1"), secrets });
      return { step: n, expected: [n.container] };
    },
  },
  SshWitnessNode: {
    deployment: dockerSsh,
    build: (s, secrets) => {
      const n = new constructs.SshWitnessNode(s, "pgw-1", { deployment: dockerSsh, nodeName: "pgw-1", secrets });
      return { step: n, expected: [n.container] };
    },
  },
  PrimaryReady: {
    deployment: docker,
    build: (s) => {
      const r = new constructs.PrimaryReady(s, "primary-ready", { primary: node(docker, "pg-1"), port: 5432, user: "postgres", dependsOn: [] });
      return { step: r, expected: [r.resource] };
    },
  },
  EmsNode: {
    deployment: docker,
    build: (s, secrets) => {
      const e = new constructs.EmsNode(s, "ems-1", { deployment: docker, node: docker.emsNodes[0]!, primary: true, secrets });
      return { step: e, expected: [e.resource] };
    },
  },
  FortiGateLb: {
    deployment: docker,
    secrets: { fortigateToken: true },
    build: (s, secrets) => {
      const f = new constructs.FortiGateLb(s, "fortigate", { deployment: docker, secrets });
      return { step: f, expected: [f.monitor, ...f.vips.values(), ...f.policies] };
    },
  },
  NativePgNode: {
    deployment: native,
    secrets: { symmetricKey: true },
    build: (s, secrets) => {
      const n = new constructs.NativePgNode(s, "dbnode-1", { deployment: native, node: node(native, "dbnode-1"), secrets });
      return { step: n, expected: [n.resource] };
    },
  },
  NativeWitnessNode: {
    deployment: native,
    secrets: { symmetricKey: true },
    build: (s, secrets) => {
      const n = new constructs.NativeWitnessNode(s, "witness-1", { deployment: native, nodeName: "witness-1", secrets });
      return { step: n, expected: [n.resource] };
    },
  },
  NativeSshKeySync: {
    deployment: native,
    secrets: { symmetricKey: true },
    build: (s, secrets) => {
      const a = new constructs.NativePgNode(s, "dbnode-1", { deployment: native, nodeName: "dbnode-1", secrets });
      const k = new constructs.NativeSshKeySync(s, "ssh-keys", { nodes: [a] });
      return { step: k, expected: k.resources };
    },
  },
  NativeRollingRestart: {
    deployment: native,
    secrets: { symmetricKey: true },
    build: (s, secrets) => {
      const a = new constructs.NativePgNode(s, "dbnode-1", { deployment: native, nodeName: "dbnode-1", secrets });
      const r = new constructs.NativeRollingRestart(s, "rolling-restart", { deployment: native, nodes: [a], dependsOn: [a] });
      return { step: r, expected: [r.steps.at(-1)!] };
    },
  },
  DeploymentSecrets: {
    deployment: docker,
    build: (s) => ({ step: new constructs.DeploymentSecrets(s, "more-secrets"), expected: [] }),
  },
  DockerReconcileService: {
    deployment: docker,
    build: (s) => {
      const r = new constructs.DockerReconcileService(s, "reconcile", { deployment: docker, node: node(docker, "pg-1") });
      return { step: r, expected: [r] };
    },
  },
  RemoteScript: {
    deployment: docker,
    build: (s) => {
      const r = new constructs.RemoteScript(s, "step", { host: node(docker, "pg-1"), name: "x", script: "true\n" });
      return { step: r, expected: [r] };
    },
  },
  StandalonePostgres: {
    deployment: standalone,
    build: (s, secrets) => {
      const p = new constructs.StandalonePostgres(s, "database", { deployment: standalone, secrets });
      expect(p.setup).toBeDefined(); // the example is managed
      // An existing server has nothing to wait for.
      const existing = new constructs.StandalonePostgres(s, "existing", { deployment: appliances, secrets });
      expect(existing.done).toEqual([]);
      return { step: p, expected: [p.setup!] };
    },
  },
  DbReachable: {
    deployment: standalone,
    build: (s) => {
      const r = new constructs.DbReachable(s, "db-reachable", { deployment: standalone });
      return { step: r, expected: [r] };
    },
  },
  ApplianceRedirect: {
    deployment: appliances,
    build: (s, secrets) => {
      const a = new constructs.ApplianceRedirect(s, "ems-1", {
        deployment: appliances,
        node: appliances.emsNodes[0]!,
        role: "primary",
        secrets,
        appliancePassword: secrets.dbPassword,
      });
      return { step: a, expected: [a.resource] };
    },
  },
  UpgradeNodeStep: {
    deployment: upgrade,
    build: (s) => {
      const u = new constructs.UpgradeNodeStep(s, "pg-1-prepare", {
        deployment: upgrade,
        upgrade: upgradeOrder(upgrade)[0]!,
        step: "prepare",
        script: "true\n",
      });
      return { step: u, expected: [u.resource] };
    },
  },
  DockerPgHaCluster: {
    deployment: docker,
    build: (s, secrets) => {
      const c = new constructs.DockerPgHaCluster(s, { deployment: docker, secrets });
      expect(c.nodes.map((n) => n.dbNode.name)).toEqual(["pg-1", "pg-2", "pgw-1"]);
      return { step: c, expected: [c.primaryReady.resource] };
    },
  },
  NativePgHaCluster: {
    deployment: native,
    secrets: { symmetricKey: true },
    build: (s, secrets) => {
      const c = new constructs.NativePgHaCluster(s, { deployment: native, secrets });
      // The rolling restart runs after every join and key refresh: its last step is the cluster's end.
      expect(c.rollingRestart.steps).toHaveLength(c.dataNodes.length * 2 + c.witnesses.length);
      return { step: c, expected: c.rollingRestart.done };
    },
  },
  EmsCluster: {
    deployment: docker,
    build: (s, secrets) => {
      const e = new constructs.EmsCluster(s, { deployment: docker, secrets, dependsOn: [] });
      expect(e.primary).toBe(e.nodes[0]);
      return { step: e, expected: e.nodes.map((n) => n.resource) };
    },
  },
  DockerUpgrade744: {
    deployment: upgrade,
    build: (s, secrets) => {
      const u = new constructs.DockerUpgrade744(s, { deployment: upgrade, secrets });
      const started = [...u.steps.values()].map((x) => x.start.resource);
      expect(u.reconcile.map((r) => r.node.id)).toEqual(["pgn-1-reconcile", "pgn-2-reconcile", "pgnw-1-reconcile"]);
      return { step: u, expected: [...started, ...u.reconcile] };
    },
  },
};

/** The Terraform address of a dependable (every one here is a resource). */
function address(d: ITerraformDependable): string {
  if (!TerraformResource.isTerraformResource(d)) throw new Error(`not a resource: ${String(d)}`);
  return `${d.terraformResourceType}.${d.friendlyUniqueId}`;
}

const NOT_DEPENDABLE = new Set(["LiteralOutput"]);

describe("every construct of constructs/ exposes done (IDeployStep)", () => {
  it("has a case for every class of constructs/*.ts", () => {
    const names = classesIn("constructs")
      .filter((c) => !NOT_DEPENDABLE.has(c.name))
      .map((c) => c.name);
    // Abstract bases (not exported) are covered through their subclasses.
    const exported = names.filter((n) => n in constructs);
    expect(exported.sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: done holds what it must, and dependsOn: [${name}] waits for exactly that`, () => {
      const stack = new TerraformStack(Testing.app(), "layout");
      const secrets = new constructs.DeploymentSecrets(stack, "secrets", { fortigateToken: true, ...c.secrets });
      const { step, expected } = c.build(stack, secrets);
      expect(constructs.isDeployStep(step)).toBe(true);
      expect(step.done).toEqual(expected);
      for (const d of step.done) expect(typeof d.fqn).toBe("string");
      // A later step naming the construct waits for its done (and, for an empty done, for nothing).
      const later = new constructs.RemoteScript(stack, "later", { host: node(docker, "pg-1"), name: "later", script: "true\n", dependsOn: [step] });
      const json = JSON.parse(Testing.synth(stack)) as { resource: Record<string, Record<string, { depends_on?: string[] }>> };
      const rendered = json.resource.terraform_data![later.friendlyUniqueId]!.depends_on;
      expect(rendered).toEqual(expected.map(address));
      if (!(step instanceof Construct)) {
        // A composite adds no tree level: its constructs sit directly in the scope.
        expect(stack.node.children.some((x) => x.node.id === name)).toBe(false);
      }
    });
  }
});
