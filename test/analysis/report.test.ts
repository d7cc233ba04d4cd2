import { describe, expect, it } from "vitest";
import { reportMarkdown, topologySvg } from "../../src/analysis/report";
import { runRules } from "../../src/analysis/rules";
import { geoInput, parsed, singleInput } from "./fixtures";

interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  text: string;
}

interface SaxParser {
  onerror: (e: Error) => void;
  onopentag: (t: { name: string; attributes: Record<string, unknown> }) => void;
  onclosetag: () => void;
  ontext: (t: string) => void;
  write(s: string): { close(): void };
}
interface SaxModule {
  parser(strict: boolean, opts: { xmlns: boolean }): SaxParser;
}

/** Parses with sax in strict mode (a dependency of cdktf-cli); throws on any well-formedness error. */
function parseXml(xml: string): XmlNode[] {
  let sax: SaxModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sax = require("sax");
  } catch {
    throw new Error("the XML parser 'sax' is missing (it comes with cdktf-cli): run npm install");
  }
  const parser = sax.parser(true, { xmlns: false });
  const nodes: XmlNode[] = [];
  const stack: XmlNode[] = [];
  parser.onerror = (e) => {
    throw e;
  };
  parser.onopentag = (t) => {
    const n = { name: t.name, attributes: t.attributes as Record<string, string>, text: "" };
    nodes.push(n);
    stack.push(n);
  };
  parser.onclosetag = () => void stack.pop();
  parser.ontext = (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.write(xml).close();
  return nodes;
}

describe("topology.svg", () => {
  it.each([
    ["single-region", singleInput],
    ["geo-redundant", geoInput],
  ] as const)("is well-formed SVG that names every node (%s)", (_name, input) => {
    const d = parsed(input());
    const nodes = parseXml(topologySvg(d));
    expect(nodes[0]!.name).toBe("svg");
    expect(nodes[0]!.attributes.xmlns).toBe("http://www.w3.org/2000/svg");
    const texts = nodes.filter((n) => n.name === "text").map((n) => n.text);
    for (const n of [...d.emsNodes, ...d.database.nodes]) {
      expect(texts).toContain(n.name);
      expect(nodes.some((x) => x.name === "g" && x.attributes.id === `node-${n.name}`)).toBe(true);
    }
    // One replication or witness path from the primary to every other DB node, one LB line per EMS node.
    expect(nodes.filter((n) => n.name === "path" && n.attributes["marker-end"]?.match(/repl|witness/))).toHaveLength(d.database.nodes.length - 1);
    expect(nodes.filter((n) => n.name === "line" && n.attributes["marker-end"] === "url(#arrow-lb)")).toHaveLength(d.emsNodes.length);
  });

  it("groups nodes by location and escapes text", () => {
    const g = geoInput();
    g.name = "geo-ems";
    const svg = topologySvg(parsed(g));
    expect(svg).toContain(">Location dc1<");
    expect(svg).toContain(">Location dc2<");
    const parsedNodes = parseXml(svg.replace("geo-ems: geo-redundant", "a &amp; b"));
    expect(parsedNodes.length).toBeGreaterThan(10);
    expect(() => parseXml(svg.replace("</svg>", ""))).toThrow();
  });
});

describe("report.md", () => {
  it("has every section a reviewer needs", () => {
    const d = parsed(geoInput());
    const md = reportMarkdown(d, { findings: runRules(d) });
    for (const h of [
      "## Nodes and roles",
      "## Deployment order",
      "## VIPs and ports",
      "## Failover table (repmgr model)",
      "## RTO budget",
      "## Rule findings",
    ]) {
      expect(md).toContain(h);
    }
    expect(md).toContain("![topology](topology.svg)");
    expect(md).toContain("| pgw-2 | 192.168.2.23 | dc2 | DB witness | 0 | 2002 |");
    expect(md).toMatch(/1\. prepare every DB host[^\n]*\n2\. start and register the DB primary: pg-1/);
    expect(md).toContain("| 10443 | ems-1 192.168.1.10:10443 (first), ems-2 192.168.1.11:10443, ems-3 192.168.2.10:10443 |");
    expect(md).toContain("primary pg-3, down pg-3, pgw-2: repmgr says nobody: manual promotion of pg-1, vendor says pg-1 becomes primary");
    expect(md).toContain("\\[Acknowledged\\] location-loss-no-majority");
    expect(md).toContain("End-to-end worst case");
  });

  it("escapes Markdown and HTML from deployment values (no raw <script>, no line break out of a cell)", () => {
    // The schema refuses such a location; the report must not depend on that.
    const d = parsed(geoInput());
    const hostile = {
      ...d,
      name: "x <b>",
      emsNodes: d.emsNodes.map((n, i) => (i === 0 ? { ...n, location: "dc1<script>alert(1)</script>\n# owned | x" } : n)),
    };
    const md = reportMarkdown(hostile, {
      findings: [{ ruleId: "r", level: "warning", nodes: [], message: "m", fix: "f", acknowledged: "*bold* <img src=x onerror=alert(1)>\n\n# heading" }],
    });
    // No unescaped "<" from a value: only the toolkit's own markup remains.
    expect(md).not.toMatch(/(?<!\\)<(script|img|b>)/);
    expect(md).toContain("dc1\\<script\\>alert(1)\\</script\\> \\# owned \\| x");
    expect(md).not.toMatch(/^# (owned|heading)/m);
    expect(md).toContain("\\*bold\\*");
    // Every table row still has its column count.
    const nodeRows = md.split("\n").filter((l) => l.startsWith("| ems-1 "));
    expect(nodeRows).toHaveLength(1);
    expect(nodeRows[0]!.split(/(?<!\\)\|/).length).toBe(8);
  });

  it("counts exactly the rows of its failover table and names the other model", () => {
    for (const input of [singleInput, geoInput]) {
      const d = parsed(input());
      const md = reportMarkdown(d, { findings: [] });
      const rows = md
        .split("\n")
        .filter(
          (l) =>
            l.startsWith("| ") && !l.startsWith("| Scenario") && md.indexOf(l) > md.indexOf("## Failover table") && md.indexOf(l) < md.indexOf("## RTO budget"),
        );
      const m =
        /(\d+) lose the primary and are listed below: (\d+) need a manual promotion(?:, (\d+) leave no data node up)?, (\d+) promote a standby automatically/.exec(
          md,
        )!;
      expect(m, md.slice(0, 2000)).not.toBeNull();
      expect(Number(m[1])).toBe(rows.length);
      expect(Number(m[2])).toBe(rows.filter((r) => r.includes("Needs manual promotion")).length);
      expect(Number(m[4])).toBe(rows.filter((r) => r.includes("**becomes the primary**")).length);
      expect(md).toMatch(/The repmgr model and the vendor model agree|Where the vendor model disagrees/);
      expect(md).not.toContain("the other model");
    }
    const single = parsed(singleInput());
    // The case: "6 need a manual promotion" above a table with 2. For each of the two
    // primaries, losing pg-1 + pg-2 (and the one location) leaves only the witness: counted apart.
    expect(reportMarkdown(single, { findings: [] })).toContain(
      "8 lose the primary and are listed below: 2 need a manual promotion, 4 leave no data node up, 2 promote a standby automatically",
    );
  });

  it("says which manual promotions the reconciliation service makes once a majority answers again, only where the deployment renders that repair", () => {
    const single = parsed(singleInput());
    const md = reportMarkdown(single, { findings: [], electionRepairAfterSeconds: 34 });
    // the table's two manual rows: the primary lost with the witness, pg-2 then pg-1 the only data node visible (1 of 2)
    const manualRows = md.split("\n").filter((l) => l.includes("Needs manual promotion"));
    expect(manualRows).toHaveLength(2);
    expect(md).toContain(
      "Of the manual promotions, 2 come from an election cancelled for want of a majority: once a majority of the DB nodes answers again and no primary has answered for 34 s, this deployment's reconciliation service promotes",
    );
    expect(reportMarkdown(single, { findings: [] })).not.toContain("reconciliation service promotes");
    // geo: the manual promotions come from the location rule, left to repmgr
    expect(reportMarkdown(parsed(geoInput()), { findings: [], electionRepairAfterSeconds: 34 })).not.toContain("Of the manual promotions");
  });

  it("shows the installer version, every checksum and the image source", () => {
    const d = parsed(singleInput());
    const md = reportMarkdown(d, { findings: [] });
    expect(md).toContain("## Installer and image");
    expect(md).toContain(
      "| EMS installer | 7.4.4.2034 \\(file ./forticlientems\\_7.4.4.2034.F.bin\\), run from /opt/ems-ha/installer |"
        .replace(/\\\(/g, "(")
        .replace(/\\\)/g, ")"),
    );
    expect(md).toContain("| PostgreSQL HA image | ems-postgres-ha:latest from tarball /root/forticlientems\\_postgres-ha.tar.gz on each DB host |");
    expect(md).toContain(`| sha256 of the EMS installer | ${d.installer.source.sha256} |`);
    const zeros = parsed({ ...singleInput(), installer: { ...singleInput().installer, source: { kind: "file", path: "./x.bin", sha256: "0".repeat(64) } } });
    expect(reportMarkdown(zeros, { findings: [] })).toContain(`| sha256 of the EMS installer | ${"0".repeat(64)} (PLACEHOLDER: synth and deploy refuse it) |`);
  });
});
