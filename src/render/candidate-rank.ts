/**
 * repmgr's order of election candidates, as bash: the highest received LSN first, then the
 * highest priority, then the lowest node id (docs/reliability.md#two-standbys-promoted-at-once).
 * The reconciliation service's election repair (src/render/native/reconcile.ts) and the failover
 * validation script (src/render/failover-validation.ts) both include this one definition: were
 * they to rank differently, each could find itself the best candidate and both promote.
 */

/** Bash functions `lsn_num` and `ranks_above` (a String.raw body: `\${` stands for bash's own). */
export const CANDIDATE_RANK_INCLUDE = String.raw`
# "X/Y" -> bytes
lsn_num() { local h=\${1%/*} l=\${1#*/}; echo $(( (16#$h << 32) + 16#$l )); }

# ranks_above LSN PRIORITY ID MY_LSN MY_PRIORITY MY_ID: whether the standby (LSN, PRIORITY, ID)
# comes before this node in repmgr's election (highest LSN, then highest priority, then lowest id)
ranks_above() {
  local theirs mine
  theirs=$(lsn_num "$1") mine=$(lsn_num "$4")
  [ "$theirs" -gt "$mine" ] && return 0
  [ "$theirs" -eq "$mine" ] || return 1
  [ "$2" -gt "$5" ] && return 0
  [ "$2" -eq "$5" ] && [ "$3" -lt "$6" ]
}
`;
