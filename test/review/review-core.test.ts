/** The review's building blocks: value diffs with masks, address classification, Markdown escaping. */
import { describe, expect, it } from "vitest";
import { changedLeaves, classify, constructPath, fieldOf, mdCode, mdText, reviewMarkdown, reviewPlan, type PlanJson } from "../../src/review";

describe("changedLeaves", () => {
  it("compares docker env lists by key and keeps sensitivity per entry", () => {
    const before = ["POSTGRESQL_PASSWORD=old", "REPMGR_NODE_NAME=pg-1", "REPMGR_PARTNER_NODES=pg-1,pg-2:5432"];
    const after = ["POSTGRESQL_PASSWORD=new", "REPMGR_NODE_NAME=pg-1", "REPMGR_NODE_LOCATION=dc1", "REPMGR_PARTNER_NODES=pg-1,pg-2:5432"];
    const leaves = changedLeaves(
      { env: before },
      { env: after },
      { beforeSensitive: { env: [true, false, false] }, afterSensitive: { env: [true, false, false, false] } },
    );
    expect(leaves.map((l) => [l.path.join("."), l.sensitive])).toEqual([
      ["env.POSTGRESQL_PASSWORD", true],
      ["env.REPMGR_NODE_LOCATION", false],
    ]);
  });
  it("reports an unknown-after-apply value once, without descending", () => {
    const l = changedLeaves({ a: { b: 1 } }, { a: null }, { afterUnknown: { a: true } });
    expect(l).toEqual([{ path: ["a"], before: { b: 1 }, after: undefined, sensitive: false, unknown: true }]);
  });
  it("a whole sensitive object marks every leaf", () => {
    const l = changedLeaves({ x: { y: "1" } }, { x: { y: "2" } }, { beforeSensitive: { x: true } });
    expect(l[0]!.sensitive).toBe(true);
  });
});

describe("addresses", () => {
  it("reads the construct path back from cdktf's logical id", () => {
    expect(constructPath("pg-1_prepare_FD49CED1")).toBe("pg-1/prepare");
    expect(constructPath("fortigate_vip-443_62EF8EB0")).toBe("fortigate/vip-443");
    expect(constructPath("db-reachable")).toBe("db-reachable");
  });
  it("tells the standalone server's setup from a native node named database by its triggers", () => {
    expect(classify("terraform_data", "database_setup_63F9C19C", ["server", "address", "script"])?.row.cls).toBe("standalone-db-setup");
    expect(classify("terraform_data", "database_setup_63F9C19C", ["node", "node_id", "script_sha256"])?.row.cls).toBe("native-db-setup");
    expect(classify("terraform_data", "pg-1-stop_run_12345678", [])).toMatchObject({ node: "pg-1", step: "stop" });
  });
  it("knows the RemoteScript steps: a native node's prepare, the Docker host preparation, the ssh engine's container", () => {
    expect(classify("terraform_data", "dbnode-1_prepare_6D76847D", ["node", "script_sha256", "content_sha256"])?.row.cls).toBe("native-db-prepare");
    expect(classify("terraform_data", "pg-1_prepare_FD49CED1", ["host", "image", "content_sha256"])?.row.cls).toBe("db-prepare");
    expect(classify("terraform_data", "pg-1_container_12345678", ["host", "name", "spec", "content_sha256"])).toMatchObject({
      node: "pg-1",
      row: { cls: "db-container" },
    });
  });
  it("maps attribute paths to deployment fields, most specific first", () => {
    const row = classify("docker_container", "pg-2_container_A322699D", [])!.row;
    expect(fieldOf(row, ["env", "REPMGR_NODE_LOCATION"], "pg-2")).toBe("database.nodes[name=pg-2].location");
    expect(fieldOf(row, ["env", "SOMETHING_NEW"], "pg-2")).toBe("database (container environment)");
    expect(fieldOf(row, ["ports", 0, "external"], "pg-2")).toBe("database.port");
  });
});

describe("Markdown", () => {
  it("escapes text and code spans where the comment is assembled", () => {
    expect(mdText("a|b <img src=x> *c* [l](u)")).toBe("a\\|b &lt;img src=x&gt; \\*c\\* \\[l\\]\\(u\\)");
    expect(mdCode("a`b|c")).toBe("``a`b\\|c``");
  });
  it("a resource of the user's with a hostile name cannot break the table or inject HTML", () => {
    const plan: PlanJson = {
      resource_changes: [
        {
          address: "null_resource.x|<script>alert(1)</script>`",
          type: "null_resource",
          name: "x|<script>",
          change: { actions: ["update"], before: { v: "a|b" }, after: { v: "<b>c</b>" }, after_unknown: {}, before_sensitive: {}, after_sensitive: {} },
        },
      ],
    };
    const r = reviewPlan(plan);
    expect(r.findings[0]!.kind).toBe("unknown-resource");
    expect(r.exitCode).toBe(1);
    const md = reviewMarkdown(r);
    const row = md.split("\n").find((l) => l.startsWith("| 1 |"))!;
    // HTML only inside code spans (shown literally); none in the text
    const outsideCode = row
      .replace(/\\`/g, "")
      .replace(/``[\s\S]*?``/g, "")
      .replace(/`[^`]*`/g, "");
    expect(outsideCode).not.toMatch(/<(?!br>)/);
    expect(row).toContain("&lt;script&gt;");
    // 6 cell separators: every | inside a value is escaped
    expect(row.replace(/\\\|/g, "").split("|").length - 1).toBe(6);
  });
});

describe("verdicts", () => {
  const step = (name: string, before: Record<string, string>, after: Record<string, string>) => ({
    address: `terraform_data.${name}`,
    type: "terraform_data",
    name,
    change: {
      actions: ["delete", "create"] as const,
      before: { triggers_replace: before },
      after: { triggers_replace: after },
      after_unknown: {},
      replace_paths: [["triggers_replace"]],
    },
  });
  it("the ssh engine's container step replaced on the primary is a failover; its content hash alone names the script or runner", () => {
    const t = { host: "10.0.0.1", name: "pg-1", spec: "a" };
    const r = reviewPlan(
      { resource_changes: [step("pg-1_container_12345678", { ...t, content_sha256: "1" }, { ...t, content_sha256: "2" })] as any },
      { primary: "pg-1" },
    );
    expect(r.findings.map((f) => f.kind)).toEqual(["primary-restart"]);
    expect(r.findings[0]!.causes).toMatchObject([{ attribute: "triggers_replace.content_sha256", field: expect.stringContaining("runner") }]);
  });
  it("a native node's prepare and setup replaced together are one finding naming both; content_sha256 is not a cause beside script_sha256", () => {
    const t = { node: "n-2", address: "10.0.0.2", node_id: "2", role: "data", extensions_sha256: "" };
    const b = { ...t, script_sha256: "s1", content_sha256: "c1" };
    const a = { ...t, script_sha256: "s2", content_sha256: "c2" };
    const r = reviewPlan({ resource_changes: [step("n-2_prepare_11111111", b, a), step("n-2_setup_22222222", b, a)] as any }, { primary: "n-1" });
    expect(r.findings.map((f) => f.kind)).toEqual(["standby-restart"]);
    expect(r.findings[0]!.addresses).toEqual(["terraform_data.n-2_prepare_11111111", "terraform_data.n-2_setup_22222222"]);
    expect(r.findings[0]!.causes.map((c) => c.attribute)).toEqual(["triggers_replace.script_sha256"]);
    expect(r.findings[0]!.detail).toContain("prepare step runs first, on every node at once");
  });
  it("an empty plan is safe", () => {
    expect(reviewPlan({ resource_changes: [] })).toMatchObject({ verdict: "safe", exitCode: 0, findings: [] });
  });
  it("without a deployment, a primary comes from the containers' REPMGR_PRIMARY_HOST", () => {
    const c = (node: string, pw: string) => ({
      address: `docker_container.${node}_container_ABCDEF12`,
      type: "docker_container",
      name: `${node}_container_ABCDEF12`,
      change: {
        actions: ["delete", "create"] as const,
        before: { env: [`POSTGRESQL_PASSWORD=${pw}`, "REPMGR_PRIMARY_HOST=pg-2"] },
        after: { env: ["POSTGRESQL_PASSWORD=z", "REPMGR_PRIMARY_HOST=pg-2"] },
        after_unknown: {},
        before_sensitive: { env: [true, false] },
        after_sensitive: { env: [true, false] },
        replace_paths: [["env"]],
      },
    });
    const r = reviewPlan({ resource_changes: [c("pg-1", "a"), c("pg-2", "b")] as any });
    expect(r.findings.find((f) => f.kind === "primary-restart")!.node).toBe("pg-2");
    // after a failover the operator names the current primary
    const after = reviewPlan({ resource_changes: [c("pg-1", "a"), c("pg-2", "b")] as any }, { primary: "pg-1" });
    expect(after.findings.find((f) => f.kind === "primary-restart")!.node).toBe("pg-1");
    expect(after.findings.find((f) => f.kind === "primary-restart")!.detail).toContain("the current primary (--primary)");
    expect(JSON.stringify(r)).not.toMatch(/PASSWORD=(a|b|z)/);
  });
});
