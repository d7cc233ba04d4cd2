/**
 * Override lines (EMS_HA_RECONCILE_OVERRIDES) that move a rendered reconciliation script's state
 * into `dir`: STATE_DIR, and every file the script derives from it when its definitions run
 * (src/render/native/reconcile.ts), read from the script itself so that none is missed.
 */
export function reconcileStateOverrides(script: string, dir: string): string[] {
  const derived = [...script.matchAll(/^(\w+)="\$STATE_DIR\/([^"$]*)"$/gm)].map((m) => `${m[1]}=${dir}/${m[2]}`);
  if (derived.length === 0) throw new Error("no state file derived from STATE_DIR in the script: has its layout changed?");
  return [`STATE_DIR=${dir}`, ...derived];
}
