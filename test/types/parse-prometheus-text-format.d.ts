/** The shape parse-prometheus-text-format (a devDependency, used to read back what src/render/prometheus.ts writes) returns. */
declare module "parse-prometheus-text-format" {
  interface ParsedMetric {
    readonly value: string;
    readonly labels?: Record<string, string>;
  }
  interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: string;
    readonly metrics: ParsedMetric[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
