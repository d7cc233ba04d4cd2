import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { fortigateObjects, renderFortiOsCli } from "../../src/render/fortios";
import { renderChecklist } from "../../src/render/checklist";
import { runCli } from "../../src/cli/main";

const d = parseDeployment(example);

describe("FortiGate objects", () => {
  it("builds the guide's health check, VIPs and policy", () => {
    const o = fortigateObjects(d, d.fortigate!);
    expect(o.monitor).toEqual({ name: "ems-ha-tcp-8013", type: "tcp", interval: 10, timeout: 2, retry: 3, port: 8013 });
    expect(o.vips.map((v) => v.extport)).toEqual(["10443", "443", "8013", "8015", "8871"]);
    expect(o.vips[0]!.realservers).toEqual([
      { id: 1, type: "ip", ip: "192.168.1.10", port: 10443, status: "active", max_connections: 0 },
      { id: 2, type: "ip", ip: "192.168.1.11", port: 10443, status: "active", max_connections: 0 },
    ]);
    expect(o.policies).toHaveLength(1);
    expect(o.policies[0]!.dstaddr.map((x) => x.name)).toEqual(o.vips.map((v) => v.name));
  });

  it("keeps real server ids stable: the order of the EMS nodes decides, nothing else", () => {
    const a = fortigateObjects(d, d.fortigate!);
    const b = fortigateObjects(d, { ...d.fortigate!, chromebook: true });
    expect(b.vips.find((v) => v.extport === "443")!.realservers).toEqual(a.vips.find((v) => v.extport === "443")!.realservers);
  });

  it("keeps names within FortiOS limits for the longest allowed prefix", () => {
    const extra = Array.from({ length: 20 }, (_, i) => ({ outgoingInterface: `p${i}` }));
    const o = fortigateObjects(d, { ...d.fortigate!, namePrefix: "a-very-long-prefix-x", extraEmsSubnets: extra, chromebook: true, acme: true });
    for (const p of o.policies) expect(p.name.length).toBeLessThanOrEqual(35);
    for (const v of o.vips) expect(v.name.length).toBeLessThanOrEqual(79);
    expect(new Set(o.policies.map((p) => p.policyid)).size).toBe(21);
  });

  it("renders the same objects as FortiOS CLI commands", () => {
    const cli = renderFortiOsCli(fortigateObjects(d, d.fortigate!), "root");
    expect(cli).toContain("config firewall ldb-monitor");
    expect(cli).toContain("set ldb-method first-alive");
    expect(cli).toContain("set server-type tcp");
    expect(cli).toContain('set monitor "ems-ha-tcp-8013"');
    expect(cli).toContain("set inspection-mode proxy");
    expect(cli.match(/^ {4}edit "ems-ha-vip-/gm)).toHaveLength(5);
    expect(cli.match(/set max-connections 0/g)).toHaveLength(10);
    // balanced config/end blocks
    expect(cli.match(/^\s*config /gm)!.length).toBe(cli.match(/^\s*end$/gm)!.length);
  });
});

describe("CLI: checklist and fortios-cli", () => {
  it("prints the manual EMS steps with the deployment's values", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["checklist", "--config", "examples/single-region.ts"], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      cwd: process.cwd(),
      env: {},
    });
    expect(code, err.join("")).toBe(0);
    expect(out.join("")).toBe(renderChecklist(d));
    expect(out.join("")).toMatch(/Custom hostname: enter the FortiGate VIP 172\.16\.1\.50/);
  });

  it("exits 2 naming --config when no deployment is given", async () => {
    const err: string[] = [];
    const code = await runCli(["fortios-cli"], { out: () => {}, err: (t) => err.push(t), cwd: "/", env: {} });
    expect(code).toBe(2);
    expect(err.join("")).toMatch(/--config.*Fix: pass --config/s);
  });
});
