/**
 * Prometheus's text exposition format (version 0.0.4), as node_exporter's textfile collector and
 * Prometheus's own scrape read it (docs/operations.md, "Metrics for Prometheus"): per metric a
 * `# HELP` line, a `# TYPE` line and one line per sample, `name{label="value",...} number`.
 *
 * Every value from a deployment (node names, mount points, directories) is a label value, escaped
 * here where the text is assembled: a backslash, a double quote and a line feed are the three
 * characters the format escapes (`\\`, `\"`, `\n`); HELP text escapes the backslash and the line
 * feed. Metric and label names are the toolkit's own and are checked against the format's grammar.
 * Pure.
 */

export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*` */
  readonly name: string;
  readonly help: string;
  readonly type: "gauge" | "counter";
  readonly samples: ReadonlyArray<Sample>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value inside its double quotes. */
export function promLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function helpText(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format writes it (Go's float syntax, `NaN`, `+Inf`, `-Inf`). */
export function promNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The families as one text, each with its samples; a family without samples is left out. */
export function renderPrometheus(families: ReadonlyArray<MetricFamily>): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`not a Prometheus metric name: ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric ${f.name} given twice`);
    seen.add(f.name);
    if (f.samples.length === 0) continue;
    lines.push(`# HELP ${f.name} ${helpText(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      for (const [k] of labels) if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`not a Prometheus label name: ${JSON.stringify(k)}`);
      const text = labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${promLabelValue(v)}"`).join(",")}}`;
      lines.push(`${f.name}${text} ${promNumber(s.value)}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
