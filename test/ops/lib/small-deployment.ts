/** A small deployment for the pure backup and restore tests (pg-1, pg-2 data, pgw-1 witness at 10.0.0.1-3; port 5433; user ems_admin). */
export const smallDeploymentInput = (topology: string, name: string) => ({
  topology,
  name,
  emsNodes: [
    { name: "ems-1", address: "10.0.0.5" },
    { name: "ems-2", address: "10.0.0.6" },
  ],
  database: {
    user: "ems_admin",
    port: 5433,
    nodes: [
      { name: "pg-1", address: "10.0.0.1", role: "data" },
      { name: "pg-2", address: "10.0.0.2", role: "data" },
      { name: "pgw-1", address: "10.0.0.3", role: "witness" },
    ],
  },
  installer: { version: "7.4.4.2034", source: { kind: "file", path: "/x.bin", sha256: "1".repeat(64) } },
  ems: { fqdn: `ems.${name}.internal`, vip: "192.0.2.51" },
});
