// A BundleCache on disk: one file per key in a folder (default
// ~/.warden/cache), written atomically — a temporary file, fsync, rename — so
// a crash leaves the old file or the new one, never half of one. A file that
// cannot be read is treated as absent; what it holds is checked by the
// bundle loader, which ignores (with a warning) anything that does not verify.
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { BundleCache } from "@warden/core";

export function defaultCacheDir(): string {
  return join(homedir(), ".warden", "cache");
}

export function diskCache(dir: string = defaultCacheDir()): BundleCache {
  return {
    async get(key) {
      try {
        return await readFile(join(dir, key), "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw e;
      }
    },
    async set(key, value) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const target = join(dir, key);
      const temp = `${target}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      const file = await open(temp, "w", 0o600);
      try {
        await file.writeFile(value);
        await file.sync();
      } finally {
        await file.close();
      }
      try {
        await rename(temp, target);
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
      // The rename itself is durable once the folder is synced (not every platform allows opening a folder).
      try {
        const folder = await open(dir, "r");
        await folder.sync().finally(() => folder.close());
      } catch {
        // best effort
      }
    },
  };
}
