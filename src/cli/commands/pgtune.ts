import { defineCommand } from "../command";
import { renderPgTuneConf, type Storage } from "../../render/pgtune";
import { STORAGE } from "../../config/schema";

export const pgtuneCommand = defineCommand({
  name: "pgtune",
  summary: "Print extra.conf for a DB node (PGTune OLTP rules the guide used)",
  flags: {
    ram: {
      type: "size",
      required: true,
      placeholder: "SIZE",
      description: "the host's total RAM: 4GB, 16G, 512MB (a bare number is GB)",
      min: 256 * 1024 ** 2,
    },
    cpus: { type: "integer", required: true, description: "the host's CPUs", min: 1, max: 1024 },
    storage: { type: "string", required: true, choices: STORAGE, description: "the data disk" },
    connections: { type: "integer", default: 1092, description: "max_connections (the guide's value is the default)", min: 10, max: 100000 },
  },
  run({ flags }, io) {
    io.out(renderPgTuneConf({ ramBytes: flags.ram, cpus: flags.cpus, storage: flags.storage as Storage, connections: flags.connections }));
    return 0;
  },
});
