/** The engine switch and the ssh-engine constructs used directly (library use). */
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import example from "../../examples/single-region";
import { dockerDbNode } from "../../constructs/docker-db-node";
import { SshPgHaNode, SshWitnessNode } from "../../constructs/docker-ssh-node";
import { PgHaNode, WitnessNode } from "../../constructs/pg-ha-node";
import { DeploymentSecrets } from "../../constructs/secrets";
import { parseDeployment } from "../../src/config/parse";

function scope() {
  const stack = new TerraformStack(Testing.app(), "s");
  return { stack, secrets: new DeploymentSecrets(stack, "secrets") };
}

describe("dockerDbNode", () => {
  const provider = parseDeployment(example);
  const ssh = parseDeployment({ ...example, database: { ...example.database, docker: { engine: "ssh" } } });

  it("picks the construct of the engine and the node's role", () => {
    const a = scope();
    expect(dockerDbNode(a.stack, "pg-1", { deployment: provider, nodeName: "pg-1", secrets: a.secrets })).toBeInstanceOf(PgHaNode);
    expect(dockerDbNode(a.stack, "pgw-1", { deployment: provider, nodeName: "pgw-1", secrets: a.secrets })).toBeInstanceOf(WitnessNode);
    const b = scope();
    expect(dockerDbNode(b.stack, "pg-1", { deployment: ssh, nodeName: "pg-1", secrets: b.secrets })).toBeInstanceOf(SshPgHaNode);
    expect(dockerDbNode(b.stack, "pgw-1", { deployment: ssh, nodeName: "pgw-1", secrets: b.secrets })).toBeInstanceOf(SshWitnessNode);
  });

  it("refuses a docker provider with the ssh engine, and a node of the wrong role or name", () => {
    const a = scope();
    const p = new DockerProvider(a.stack, "p", { host: "ssh://root@192.0.2.1:22" });
    expect(() => dockerDbNode(a.stack, "pg-1", { deployment: ssh, nodeName: "pg-1", secrets: a.secrets, provider: p })).toThrow(
      /a docker provider was given, but database\.docker\.engine is "ssh"/,
    );
    expect(() => new SshPgHaNode(a.stack, "w", { deployment: ssh, nodeName: "pgw-1", secrets: a.secrets })).toThrow(/has role "witness"; use SshWitnessNode/);
    expect(() => new SshWitnessNode(a.stack, "x", { deployment: ssh, nodeName: "pg-9", secrets: a.secrets })).toThrow(
      /"pg-9" is not in database\.nodes \(pg-1, pg-2, pgw-1\)/,
    );
  });
});
