// Housekeeping of the logbook: git's own garbage collection, when git finds it due.
import type { Context } from "./context.js";
import { withLock } from "./snapshot.js";

/**
 * Every snapshot leaves its objects loose, and the daemon's looks ahead leave a few nothing refers
 * to: packed (and the unreferenced ones pruned after two weeks) once there are thousands. Returns
 * how many loose objects went.
 */
export async function tidy(ctx: Context): Promise<number> {
  const lb = ctx.logbook;
  lb.requireExists();
  return withLock(ctx, async () => {
    const before = await lb.looseObjects();
    await lb.gc("auto");
    return before - (await lb.looseObjects());
  });
}
