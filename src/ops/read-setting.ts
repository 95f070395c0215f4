/** Files named by settings (certificates, keys, tokens, CA bundles), read with errors an admin can act on. */
import { readFileSync } from "node:fs";

/** Reads the file a setting names; the error names the setting, the path and the reason. */
export function readSetting(key: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new Error(`${key} (${path}): cannot read: ${why}`, { cause: err });
  }
}
