/** The native-single-region stack at synth level: resources, order, triggers, secrets. */
import { TerraformStack, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors";
import { NativePgNode, NativeWitnessNode } from "../../constructs/native-node";
import { DeploymentSecrets } from "../../constructs/secrets";
import { DUMMY_SECRETS, exampleDeployment, nativeStack, synthJson } from "./helpers";

type Res = Record<string, any>;

function dataResources(j: ReturnType<typeof synthJson>): Record<string, Res> {
  return j.resource.terraform_data ?? {};
}

function byPrefix(j: ReturnType<typeof synthJson>, prefix: string): [string, Res] {
  const hit = Object.entries(dataResources(j)).find(([k]) => k.startsWith(prefix));
  if (!hit) throw new Error(`no terraform_data starting with ${prefix}: ${Object.keys(dataResources(j)).join(", ")}`);
  return hit;
}

describe("NativeSingleRegionStack", () => {
  const j = synthJson();

  it("uses only terraform_data and no provider", () => {
    expect(Object.keys(j.resource)).toEqual(["terraform_data"]);
    expect((j as Res).provider).toBeUndefined();
  });

  it("prepares every host at once, joins node 1, then node 2 and the witness together, then the SSH keys, the rolling restart, then EMS 1, then EMS 2", () => {
    const [n1] = byPrefix(j, "dbnode-1_setup");
    const [, n2] = byPrefix(j, "dbnode-2_setup");
    const [n2id] = byPrefix(j, "dbnode-2_setup");
    const [wid, w] = byPrefix(j, "witness-1_setup");
    const [, keys1] = byPrefix(j, "ssh-keys_dbnode-1");
    const [, ems1] = byPrefix(j, "ems-1_install");
    const [, ems2] = byPrefix(j, "ems-2_install");
    const [ems1id] = byPrefix(j, "ems-1_install");
    const prep = (name: string) => `terraform_data.${byPrefix(j, `${name}_prepare`)[0]}`;
    // Each node's preparation has no dependency (all hosts at once); the joins keep the guide's order.
    for (const name of ["dbnode-1", "dbnode-2", "witness-1"]) expect(byPrefix(j, `${name}_prepare`)[1].depends_on).toBeUndefined();
    // Every join waits for every preparation (each reloads pg_hba.conf): a new or re-addressed node is admitted everywhere before it joins.
    const preps = ["dbnode-1", "dbnode-2", "witness-1"].map(prep);
    expect([...byPrefix(j, "dbnode-1_setup")[1].depends_on].sort()).toEqual([...preps].sort());
    expect([...n2.depends_on].sort()).toEqual([...preps, `terraform_data.${n1}`].sort());
    // The witness registers with the primary only: it does not wait for the standby's clone.
    expect([...w.depends_on].sort()).toEqual([...preps, `terraform_data.${n1}`].sort());
    const prepRun = JSON.stringify(byPrefix(j, "dbnode-2_prepare")[1].provisioner);
    expect(prepRun).toContain("bash .ems-ha/run/native-prepare/run.sh");
    expect(prepRun).toContain('bash \\"$here/script.sh\\" --prepare');
    expect(keys1.depends_on).toEqual([`terraform_data.${n1}`, `terraform_data.${n2id}`, `terraform_data.${wid}`]);
    // The rolling restart waits for every join and both key syncs; EMS 1 waits for its last step.
    const [, others1] = byPrefix(j, "rolling-restart_others-dbnode-1");
    expect(others1.depends_on).toContain(`terraform_data.${wid}`);
    expect(others1.depends_on.filter((x: string) => x.includes("ssh-keys"))).toHaveLength(2);
    const [lastId] = byPrefix(j, "rolling-restart_primary-dbnode-2");
    expect(ems1.depends_on).toEqual([`terraform_data.${lastId}`]);
    expect(ems2.depends_on).toEqual([`terraform_data.${ems1id}`]);
  });

  it("replaces a node only when its script, address, id, role or extensions change", () => {
    const [, n1] = byPrefix(j, "dbnode-1_setup");
    // content_sha256 (RemoteScript): the script, its runner and the uploaded files' checksums.
    expect(Object.keys(n1.triggers_replace).sort()).toEqual(["address", "content_sha256", "extensions_sha256", "node", "node_id", "role", "script_sha256"]);
    expect(n1.triggers_replace.script_sha256).toMatch(/^[0-9a-f]{64}$/);
    const again = synthJson();
    expect(byPrefix(again, "dbnode-1_setup")[1].triggers_replace).toEqual(n1.triggers_replace);
    const changed = synthJson(exampleDeployment((i) => ({ ...i, native: { ...i.native, walKeepSize: "1GB" } })));
    expect(byPrefix(changed, "dbnode-1_setup")[1].triggers_replace.script_sha256).not.toBe(n1.triggers_replace.script_sha256);
  });

  it("connects over SSH with the key file only if it exists, else the agent", () => {
    const [, n1] = byPrefix(j, "dbnode-1_setup");
    expect(n1.connection).toMatchObject({ type: "ssh", host: "172.16.1.12", user: "root", port: 22 });
    expect(n1.connection.private_key).toMatch(/fileexists\("\/[^"]*\/\.ssh\/id_ed25519"\)/);
    const noKey = synthJson(
      exampleDeployment((i) => ({ ...i, database: { ...i.database, nodes: i.database.nodes.map((n) => ({ ...n, ssh: { user: "admin" } })) } })),
    );
    const [, n] = byPrefix(noKey, "dbnode-1_setup");
    expect(n.connection.private_key).toBeUndefined();
    expect(JSON.stringify(n.provisioner)).toContain("sudo -n bash .ems-ha/run/native-setup/run.sh");
  });

  it("uploads the script, the secrets from sensitive variables and the extensions, then runs the script", () => {
    const [, n1] = byPrefix(j, "dbnode-1_setup");
    const kinds = n1.provisioner.map((p: Res) => Object.keys(p)[0]);
    expect(kinds).toEqual(["remote-exec", "file", "file", "file", "file", "file", "file", "remote-exec"]);
    const files = n1.provisioner.filter((p: Res) => p.file).map((p: Res) => p.file);
    expect(files.map((f: Res) => f.destination)).toEqual([
      ".ems-ha/run/native-setup/script.sh",
      ".ems-ha/run/native-setup/run.sh",
      ".ems-ha/run/native-setup/secrets/db_password",
      ".ems-ha/run/native-setup/secrets/repmgr_password",
      ".ems-ha/run/native-setup/secrets/symmetric_key",
      ".ems-ha/run/native-setup/files/0",
    ]);
    expect(files[2].content).toBe("${var.db_password}");
    expect(files[3].content).toBe("${var.repmgr_password}");
    expect(files[4].content).toBe("${var.symmetric_key}");
    expect(files[5].source).toMatch(/^\/.*ems_pg_extensions\.tar\.gz$/);
    // The runner places each secret where the setup script reads it, installs the script for later steps, and removes the secrets.
    expect(files[1].content).toContain('install -m 0600 "$here/secrets/"db_password /var/lib/ems-ha/stage/secrets/db_password');
    expect(files[1].content).toContain('"$here/script.sh" /var/lib/ems-ha/native-setup.sh');
    expect(files[1].content).toContain("trap cleanup EXIT");
    // bash's ${...} reaches Terraform escaped, so the plan does not read it as an interpolation
    expect(files[0].content).toContain("$${PEERS[@]}");
    expect(files[0].content).not.toMatch(/(^|[^$])\$\{(?!var\.)/);
  });

  it("gives the witness only the repmgr password and no extensions", () => {
    const [, w] = byPrefix(j, "witness-1_setup");
    const dests = w.provisioner.filter((p: Res) => p.file).map((p: Res) => p.file.destination);
    expect(dests).toEqual([".ems-ha/run/native-setup/script.sh", ".ems-ha/run/native-setup/run.sh", ".ems-ha/run/native-setup/secrets/repmgr_password"]);
  });

  it("declares the three secrets as sensitive variables", () => {
    for (const v of ["db_password", "repmgr_password", "symmetric_key"]) {
      expect(j.variable[v]).toMatchObject({ sensitive: true, type: "string" });
    }
  });

  it("passes the data nodes to the EMS installer as --db_host", () => {
    const [, ems1] = byPrefix(j, "ems-1_install");
    expect(JSON.stringify(ems1.provisioner)).toContain("--db_host 172.16.1.12,172.16.1.15");
  });

  it("rejects another topology and a data node given to the witness construct", () => {
    const other = { ...exampleDeployment(), topology: "single-region" as const };
    expect(() => nativeStack(other)).toThrow(ConfigError);
    const scope = new TerraformStack(Testing.app(), "s");
    const secrets = new DeploymentSecrets(scope, "secrets", { symmetricKey: true });
    expect(() => new NativeWitnessNode(scope, "w", { deployment: exampleDeployment(), nodeName: "dbnode-1", secrets })).toThrow(
      /has role "data"; use NativePgNode/,
    );
    expect(() => new NativePgNode(scope, "x", { deployment: exampleDeployment(), nodeName: "nope", secrets })).toThrow(/not in database\.nodes/);
  });
});

describe("secrets", () => {
  it("never appear in the synthesized JSON, whatever the environment holds", () => {
    const saved = { ...process.env };
    try {
      process.env.TF_VAR_db_password = DUMMY_SECRETS.db_password;
      process.env.TF_VAR_repmgr_password = DUMMY_SECRETS.repmgr_password;
      process.env.TF_VAR_symmetric_key = DUMMY_SECRETS.symmetric_key;
      const text = Testing.synth(nativeStack());
      for (const v of Object.values(DUMMY_SECRETS)) expect(text).not.toContain(v);
      expect(text).toContain("${var.db_password}");
    } finally {
      process.env = saved;
    }
  });

  it("are never echoed by the scripts: they are read from files, passed by environment and deleted at exit", () => {
    const j = synthJson();
    const [, n1] = byPrefix(j, "dbnode-1_setup");
    const script: string = n1.provisioner[1].file.content;
    expect(script).toContain("trap cleanup EXIT");
    expect(script).toContain('EMS_HA_PW="$pw" as_pg');
    expect(script).toContain("\\getenv pw EMS_HA_PW");
    expect(script).not.toMatch(/echo[^\n]*\$(pw|key|esc)\b/);
    expect(script).not.toMatch(/PASSWORD '\$/);
  });
});
