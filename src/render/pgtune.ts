/**
 * PGTune for EMS: PostgreSQL 15, Linux, OLTP (docs/background.md#pgtune).
 * Follows PGTune's OLTP rules as they stood before its 2025-04-30 work_mem change,
 * which is what the guide's table was produced with.
 */

export type Storage = "ssd" | "hdd" | "san";

export interface PgTuneInput {
  /** Total RAM in bytes. */
  readonly ramBytes: number;
  readonly cpus: number;
  readonly storage: Storage;
  /** @default 1092 */
  readonly connections?: number;
}

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

/** Formats a size in kB as PGTune does: the largest unit that divides it evenly. */
export function formatKb(kb: number): string {
  if (kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
  if (kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}kB`;
}

/** Parses "4GB", "512MB", "4096kB" or a bare number of GB. */
export function parseRam(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(kb|mb|gb|tb)?\s*$/i.exec(text);
  if (!m) throw new Error(`RAM "${text}" is not a size; write it like 4GB or 512MB`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "gb").toLowerCase();
  const mult = unit === "kb" ? KB : unit === "mb" ? MB : unit === "tb" ? 1024 * GB : GB;
  return Math.round(n * mult);
}

export interface PgTuneSetting {
  readonly key: string;
  readonly value: string;
}

export function pgtuneSettings(input: PgTuneInput): PgTuneSetting[] {
  const connections = input.connections ?? 1092;
  const ramKb = Math.floor(input.ramBytes / KB);
  if (!(ramKb > 0)) throw new Error("ramBytes must be positive");
  if (!(input.cpus >= 1)) throw new Error("cpus must be at least 1");

  const sharedBuffers = Math.floor(ramKb / 4);
  const effectiveCache = Math.floor((ramKb * 3) / 4);
  // PostgreSQL refuses a maintenance_work_mem below 1MB (docs/configuration.md, ramGb).
  const maintenance = Math.max(Math.min(Math.floor(ramKb / 16), 2 * 1024 * 1024), 1024);
  let walBuffers = Math.floor((3 * sharedBuffers) / 100);
  const maxWal = 16 * 1024;
  if (walBuffers > maxWal) walBuffers = maxWal;
  if (walBuffers > 14 * 1024 && walBuffers < maxWal) walBuffers = maxWal;
  if (walBuffers < 32) walBuffers = 32;

  const randomPageCost = input.storage === "hdd" ? "4" : "1.1";
  const ioConcurrency = input.storage === "ssd" ? 200 : input.storage === "san" ? 300 : 2;

  const parallel = input.cpus >= 4;
  const workersPerGather = parallel ? Math.min(Math.ceil(input.cpus / 2), 4) : 0;
  const divisor = parallel ? workersPerGather : 2;
  let workMem = Math.floor((ramKb - sharedBuffers) / (connections * 3) / divisor);
  if (workMem < 64) workMem = 64;

  const out: PgTuneSetting[] = [
    { key: "max_connections", value: String(connections) },
    { key: "shared_buffers", value: formatKb(sharedBuffers) },
    { key: "effective_cache_size", value: formatKb(effectiveCache) },
    { key: "maintenance_work_mem", value: formatKb(maintenance) },
    { key: "checkpoint_completion_target", value: "0.9" },
    { key: "wal_buffers", value: formatKb(walBuffers) },
    { key: "default_statistics_target", value: "100" },
    { key: "random_page_cost", value: randomPageCost },
    { key: "effective_io_concurrency", value: String(ioConcurrency) },
    { key: "work_mem", value: formatKb(workMem) },
    { key: "huge_pages", value: ramKb >= 32 * 1024 * 1024 ? "try" : "off" },
    { key: "min_wal_size", value: "2GB" },
    { key: "max_wal_size", value: "8GB" },
  ];
  if (parallel) {
    out.push(
      { key: "max_worker_processes", value: String(input.cpus) },
      { key: "max_parallel_workers_per_gather", value: String(workersPerGather) },
      { key: "max_parallel_workers", value: String(input.cpus) },
      { key: "max_parallel_maintenance_workers", value: String(Math.min(Math.ceil(input.cpus / 2), 4)) },
    );
  }
  return out;
}

function ramLabel(bytes: number): string {
  return `${formatKb(Math.floor(bytes / KB)).replace(/(\d)(GB|MB|kB)$/, "$1 $2")}`;
}

/** extra.conf as PGTune prints it (header comments, blank line, settings). */
export function renderPgTuneConf(input: PgTuneInput): string {
  const lines = [
    "# DB Version: 15",
    "# OS Type: linux",
    "# DB Type: oltp",
    `# Total Memory (RAM): ${ramLabel(input.ramBytes)}`,
    `# CPUs num: ${input.cpus}`,
    `# Connections num: ${input.connections ?? 1092}`,
    `# Data Storage: ${input.storage}`,
    "",
    ...pgtuneSettings(input).map((s) => `${s.key} = ${s.value}`),
  ];
  return lines.join("\n") + "\n";
}

/** PGTune for a DB node of the config. */
export function pgtuneForNode(node: { ramGb: number; cpus: number; storage: Storage }, connections: number): string {
  return renderPgTuneConf({ ramBytes: Math.round(node.ramGb * GB), cpus: node.cpus, storage: node.storage, connections });
}
