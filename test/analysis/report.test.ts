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
    for (const h of ["## Nodes and roles", "## Deployment order", "## VIPs and ports", "## Failover table (repmgr model)", "## RTO budget", "## Rule findings"]) {
      expect(md).toContain(h);
    }
    expect(md).toContain("![topology](topology.svg)");
    expect(md).toContain("| pgw-2 | 192.168.2.23 | dc2 | DB witness | 0 | 2002 |");
    expect(md).toMatch(/1\. prepare every DB host[^\n]*\n2\. start and register the DB primary: pg-1/);
    expect(md).toContain("| 10443 | ems-1 192.168.1.10:10443 (first), ems-2 192.168.1.11:10443, ems-3 192.168.2.10:10443 |");
    expect(md).toContain("primary pg-3, down pg-3, pgw-2: repmgr says nobody: manual promotion of pg-1, vendor says pg-1 becomes primary");
    expect(md).toContain("[Acknowledged] location-loss-no-majority");
    expect(md).toContain("End-to-end worst case");
  });
});
