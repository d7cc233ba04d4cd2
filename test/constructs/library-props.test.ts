/** What a composer in an existing repo relies on: stable variable names, own providers, exposed resources. */
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Testing, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { DeploymentSecrets } from "../../constructs/secrets";
import { FortiGateLb } from "../../constructs/fortigate-lb";
import { FortiosProvider } from "../../constructs/fortios/bindings";
import { PgHaNode } from "../../constructs/pg-ha-node";

const d = parseDeployment(example);

describe("constructs in someone else's tree", () => {
  it("keeps the secret variable names (TF_VAR_db_password) when nested deep", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "theirs");
    const deep = new Construct(new Construct(stack, "platform"), "ems");
    new DeploymentSecrets(deep, "secrets", { fortigateToken: true });
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.keys(json.variable).sort()).toEqual(["db_password", "fortigate_token", "repmgr_password"]);
  });

  it("uses the composer's own providers and aliases its own fortios provider", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "theirs");
    const secrets = new DeploymentSecrets(stack, "secrets", { fortigateToken: true });
    const mine = new DockerProvider(stack, "my-docker", { alias: "db_one", host: "ssh://ops@10.9.9.9:2222" });
    const node = new PgHaNode(stack, "db", { deployment: d, nodeName: "pg-1", secrets, provider: mine });
    new FortiGateLb(stack, "lb", { deployment: d, secrets });
    const fg2 = new FortiosProvider(stack, "edge-fw", { hostname: "10.0.0.254", token: secrets.fortigateToken!.stringValue, alias: "edge" });
    new FortiGateLb(stack, "lb2", { deployment: d, secrets, provider: fg2 });
    const json = JSON.parse(Testing.synth(stack));
    expect(json.provider.docker).toEqual([{ alias: "db_one", host: "ssh://ops@10.9.9.9:2222" }]);
    expect(Object.values(json.resource.docker_container)[0]).toMatchObject({ provider: "docker.db_one" });
    expect(json.provider.fortios.map((p: { alias?: string }) => p.alias).sort()).toEqual(["edge", "ems_ha"]);
    const providers = new Set(Object.values(json.resource.fortios_firewall_vip as Record<string, { provider: string }>).map((v) => v.provider));
    expect([...providers].sort()).toEqual(["fortios.edge", "fortios.ems_ha"]);
    expect(node.address).toBe("192.168.1.21");
    expect(node.container.terraformResourceType).toBe("docker_container");
  });

  it("takes the node object or its name, and names value and fix when they do not fit", () => {
    const stack = new TerraformStack(Testing.app(), "theirs");
    const secrets = new DeploymentSecrets(stack, "secrets");
    const byObject = new PgHaNode(stack, "a", { deployment: d, node: d.database.nodes[1]!, secrets });
    expect(byObject.dbNode).toBe(d.database.nodes[1]);
    expect(() => new PgHaNode(stack, "b", { deployment: d, node: d.database.nodes[0]!, nodeName: "pg-2", secrets })).toThrow(
      'b: node "pg-1" and nodeName "pg-2" differ; give only one of them',
    );
    expect(() => new PgHaNode(stack, "c", { deployment: d, secrets })).toThrow(
      "c: no node given; pass node (one of database.nodes) or nodeName (one of pg-1, pg-2, pgw-1)",
    );
    const stranger = { ...d.database.nodes[0]!, name: "pg-9" };
    expect(() => new PgHaNode(stack, "e", { deployment: d, node: stranger, secrets })).toThrow(
      'e: nodeName "pg-9" is not in database.nodes (pg-1, pg-2, pgw-1); use one of those',
    );
  });

  it("dependsOn takes ems-ha constructs and waits for their done", () => {
    const stack = new TerraformStack(Testing.app(), "theirs");
    const secrets = new DeploymentSecrets(stack, "secrets", { fortigateToken: true });
    const primary = new PgHaNode(stack, "db", { deployment: d, nodeName: "pg-1", secrets });
    const standby = new PgHaNode(stack, "db2", { deployment: d, nodeName: "pg-2", secrets, dependsOn: [primary] });
    const json = JSON.parse(Testing.synth(stack));
    const container = json.resource.docker_container[standby.container.friendlyUniqueId];
    expect(container.depends_on).toEqual([`terraform_data.${standby.prepare.friendlyUniqueId}`, `docker_container.${primary.container.friendlyUniqueId}`]);
  });
});
