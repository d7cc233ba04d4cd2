/**
 * topology.svg: the hosts grouped by data centre, the FortiGate and its load-balancer
 * paths to the EMS nodes, SQL from the EMS primary to the DB primary, streaming
 * replication from the DB primary to each standby and the witnesses' repmgr links.
 */
import { emsPorts, initialPrimary, locationOf, nodeIdOf, priorityOf } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { el, text } from "./xml";

const BOX_W = 170;
const BOX_H = 64;
const GAP = 24;
const PAD = 20;
const COLORS = {
  lb: "#1f6fd1",
  sql: "#2e8b57",
  repl: "#d2691e",
  witness: "#8a4baf",
  emsBox: "#e8f1fc",
  dbBox: "#fdf1e4",
  witnessBox: "#f3eafa",
  dc: "#fafafa",
  line: "#555",
};

interface Placed {
  readonly name: string;
  readonly x: number;
  readonly y: number;
}

/** Locations in a stable order: the DB primary's first, then as they appear. */
export function locationsOf(d: Deployment): string[] {
  const first = locationOf(initialPrimary(d));
  const all = [first, ...d.database.nodes.map(locationOf), ...d.emsNodes.map((n) => n.location)];
  return [...new Set(all)];
}

function nodeBox(p: Placed, lines: string[], fill: string, stroke: string, bold: boolean): string {
  return el(
    "g",
    { id: `node-${p.name}` },
    el("rect", { x: p.x, y: p.y, width: BOX_W, height: BOX_H, rx: 6, fill, stroke, "stroke-width": bold ? 2.5 : 1.2 }),
    ...lines.map((l, i) =>
      text(p.x + BOX_W / 2, p.y + 18 + i * 16, l, { "text-anchor": "middle", "font-size": i === 0 ? 14 : 11, "font-weight": i === 0 ? "bold" : "normal" }),
    ),
  );
}

function arrowMarker(id: string, color: string): string {
  return el(
    "marker",
    { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: color }),
  );
}

export function topologySvg(d: Deployment): string {
  const locs = locationsOf(d);
  const primary = initialPrimary(d);
  const cols = locs.map((loc) => ({
    loc,
    ems: d.emsNodes.filter((n) => n.location === loc),
    db: d.database.nodes.filter((n) => locationOf(n) === loc),
  }));
  const colW = cols.map((c) => Math.max(c.ems.length, c.db.length, 1) * (BOX_W + GAP) - GAP + 2 * PAD);
  const width = Math.max(colW.reduce((a, b) => a + b, 0) + (cols.length - 1) * 30 + 2 * PAD, 720);
  const fgY = 56;
  const dcY = fgY + BOX_H + 70;
  const emsY = dcY + 40;
  const dbY = emsY + BOX_H + 80;
  const replicaEdges = d.database.nodes.filter((n) => n.name !== primary.name).length;
  const dcH = dbY - dcY + BOX_H + 40 + replicaEdges * 14;
  const legendY = dcY + dcH + 30;
  const height = legendY + 110;

  const pos = new Map<string, Placed>();
  const parts: string[] = [];
  let x = PAD;
  cols.forEach((c, i) => {
    parts.push(
      el("rect", { x, y: dcY, width: colW[i], height: dcH, rx: 10, fill: COLORS.dc, stroke: "#999", "stroke-dasharray": "6 4" }),
      text(x + 12, dcY + 22, `Location ${c.loc}`, { "font-size": 15, "font-weight": "bold", fill: "#333" }),
    );
    c.ems.forEach((n, j) => pos.set(n.name, { name: n.name, x: x + PAD + j * (BOX_W + GAP), y: emsY }));
    c.db.forEach((n, j) => pos.set(n.name, { name: n.name, x: x + PAD + j * (BOX_W + GAP), y: dbY }));
    x += colW[i]! + 30;
  });

  // FortiGate and load-balancer paths (first alive: the first EMS node is tried first).
  const fg = { name: "fortigate", x: width / 2 - BOX_W / 2, y: fgY };
  const edges: string[] = [];
  d.emsNodes.forEach((n, i) => {
    const p = pos.get(n.name)!;
    edges.push(
      el("line", {
        x1: fg.x + BOX_W / 2,
        y1: fg.y + BOX_H,
        x2: p.x + BOX_W / 2,
        y2: p.y,
        stroke: COLORS.lb,
        "stroke-width": i === 0 ? 2.5 : 1.5,
        "stroke-dasharray": i === 0 ? undefined : "6 4",
        "marker-end": "url(#arrow-lb)",
      }),
      text(fg.x + BOX_W / 2 + (p.x + BOX_W / 2 - fg.x - BOX_W / 2) * 0.35 + 8, fg.y + BOX_H + (p.y - fg.y - BOX_H) * 0.35, `#${i + 1}`, {
        "font-size": 12,
        "font-weight": "bold",
        fill: COLORS.lb,
      }),
    );
  });

  // SQL from the EMS primary to the DB primary.
  const emsPrimary = d.emsNodes[0];
  const pp = pos.get(primary.name)!;
  if (emsPrimary) {
    const ep = pos.get(emsPrimary.name)!;
    edges.push(
      el("line", {
        x1: ep.x + BOX_W / 2,
        y1: ep.y + BOX_H,
        x2: pp.x + BOX_W / 2,
        y2: pp.y,
        stroke: COLORS.sql,
        "stroke-width": 2,
        "marker-end": "url(#arrow-sql)",
      }),
      text((ep.x + pp.x) / 2 + BOX_W / 2 + 6, (ep.y + BOX_H + pp.y) / 2, `SQL :${d.database.port}`, { "font-size": 11, fill: COLORS.sql }),
    );
  }

  // Replication and witness links, routed below the DB row so they do not cross boxes.
  d.database.nodes
    .filter((n) => n.name !== primary.name)
    .forEach((n, i) => {
      const p = pos.get(n.name)!;
      const witness = n.role === "witness";
      const color = witness ? COLORS.witness : COLORS.repl;
      const x1 = pp.x + 24 + (replicaEdges > 1 ? (i * (BOX_W - 48)) / (replicaEdges - 1) : (BOX_W - 48) / 2);
      const x2 = p.x + BOX_W / 2;
      const yb = dbY + BOX_H;
      const dip = yb + 22 + i * 14;
      edges.push(
        el("path", {
          d: `M${x1},${yb} C${x1},${dip} ${x2},${dip} ${x2},${yb}`,
          fill: "none",
          stroke: color,
          "stroke-width": witness ? 1.5 : 2,
          "stroke-dasharray": witness ? "2 3" : undefined,
          "marker-end": `url(#arrow-${witness ? "witness" : "repl"})`,
        }),
      );
    });

  const boxes: string[] = [
    nodeBox(fg, ["FortiGate", d.fortigate ? d.fortigate.address : "(no FortiGate in config)", `VIP ${d.ems.vip}`], "#fff", COLORS.lb, true),
    text(fg.x + BOX_W + 12, fg.y + 22, d.fortigate ? `ports ${emsPorts(d.fortigate).join(", ")}` : "", { "font-size": 11, fill: COLORS.lb }),
    text(fg.x + BOX_W + 12, fg.y + 38, "health check TCP 8013, first alive", { "font-size": 11, fill: COLORS.lb }),
  ];
  d.emsNodes.forEach((n, i) => {
    boxes.push(nodeBox(pos.get(n.name)!, [n.name, n.address, i === 0 ? "EMS primary" : "EMS secondary"], COLORS.emsBox, COLORS.lb, i === 0));
  });
  for (const [i, n] of d.database.nodes.entries()) {
    const isPrimary = n.name === primary.name;
    const role = n.role === "witness" ? "witness" : isPrimary ? "DB primary" : "DB standby";
    const id = nodeIdOf(d, n, i) ?? "?";
    const detail = n.role === "witness" ? `id ${id}` : `prio ${priorityOf(n)} · id ${id}`;
    const fill = n.role === "witness" ? COLORS.witnessBox : COLORS.dbBox;
    boxes.push(nodeBox(pos.get(n.name)!, [n.name, `${n.address} · ${role}`, detail], fill, n.role === "witness" ? COLORS.witness : COLORS.repl, isPrimary));
  }

  const legendItems: Array<[string, string | undefined, string]> = [
    [COLORS.lb, undefined, "load-balancer path (#1 tried first; dashed: standby)"],
    [COLORS.sql, undefined, "EMS primary → DB primary (SQL)"],
    [COLORS.repl, undefined, "streaming replication (primary → standby)"],
    [COLORS.witness, "2 3", "repmgr witness link"],
  ];
  const legend = legendItems.map(([color, dash, label], i) => {
    const lx = PAD + (i % 2) * 420;
    const ly = legendY + 20 + Math.floor(i / 2) * 22;
    return el(
      "g",
      {},
      el("line", { x1: lx, y1: ly, x2: lx + 36, y2: ly, stroke: color, "stroke-width": 2.5, "stroke-dasharray": dash }),
      text(lx + 44, ly + 4, label, { "font-size": 12 }),
    );
  });
  legend.push(text(PAD, legendY + 80, "Thick border: the node that starts as primary. Priorities and ids are repmgr's.", { "font-size": 12, fill: "#555" }));

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    el(
      "svg",
      { xmlns: "http://www.w3.org/2000/svg", width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "DejaVu Sans, Arial, Helvetica, sans-serif" },
      el("title", {}, `${d.name} (${d.topology}) topology`),
      el(
        "defs",
        {},
        arrowMarker("arrow-lb", COLORS.lb),
        arrowMarker("arrow-sql", COLORS.sql),
        arrowMarker("arrow-repl", COLORS.repl),
        arrowMarker("arrow-witness", COLORS.witness),
      ),
      el("rect", { x: 0, y: 0, width, height, fill: "#fff" }),
      text(PAD, 30, `${d.name}: ${d.topology}`, { "font-size": 18, "font-weight": "bold" }),
      ...parts,
      ...edges,
      ...boxes,
      ...legend,
    ),
    "",
  ].join("\n");
}
