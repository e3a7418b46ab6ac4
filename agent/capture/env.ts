// The caller's environment as a snapshot records it: volatile variables dropped by the rules' env_drop.
import { filterEnv } from "../model/env.js";
import { globMatcher, type GlobTable } from "../model/rules.js";
import type { System } from "../platform/system.js";

export function captureEnv(sys: System, drop: string[], globs?: GlobTable): Record<string, string> {
  return filterEnv(sys.callerEnv(), globMatcher(drop, globs));
}
