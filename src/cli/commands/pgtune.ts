import { parseArgs, numberFlag, stringFlag, usageError } from "../args";
import type { Command } from "../command";
import { parseRam, renderPgTuneConf, type Storage } from "../../render/pgtune";

export const pgtuneCommand: Command = {
  name: "pgtune",
  summary: "Print extra.conf for a DB node (PGTune OLTP rules the guide used)",
  usage: "ems-ha pgtune --ram 4GB --cpus 4 --storage ssd|hdd|san [--connections 1092]",
  run(argv, io) {
    const args = parseArgs(argv);
    const ramText = stringFlag(args, "ram");
    if (!ramText) throw usageError("--ram", undefined, "is required", "add --ram 4GB");
    let ramBytes: number;
    try {
      ramBytes = parseRam(ramText);
    } catch {
      throw usageError("--ram", ramText, "is not a size", "write it like 4GB, 512MB or 16");
    }
    if (ramBytes < 256 * 1024 * 1024) throw usageError("--ram", ramText, "is below 256MB", "give the host's total RAM, e.g. 4GB");
    const cpus = numberFlag(args, "cpus", 1, 1024);
    if (cpus === undefined || !Number.isInteger(cpus)) throw usageError("--cpus", args.flags.cpus, "must be a whole number of CPUs", "add --cpus 4");
    const storage = (stringFlag(args, "storage") ?? "ssd") as Storage;
    if (!["ssd", "hdd", "san"].includes(storage)) throw usageError("--storage", storage, "is not a storage type", "use ssd, hdd or san");
    const connections = numberFlag(args, "connections", 10, 100000) ?? 1092;
    io.out(renderPgTuneConf({ ramBytes, cpus, storage, connections }));
    return 0;
  },
};
