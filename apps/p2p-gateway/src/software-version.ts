import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `git describe` of this checkout, for Hello and logs; the package version
 * when there is no git (a container image passes SOFTWARE_VERSION instead).
 */
export function softwareVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  try {
    return execFileSync("git", ["describe", "--tags", "--always", "--dirty"], { cwd: here, stdio: ["ignore", "pipe", "ignore"], timeout: 2000 })
      .toString()
      .trim();
  } catch {
    try {
      const pkg = JSON.parse(readFileSync(join(here, "..", "..", "package.json"), "utf8")) as { version?: string };
      return pkg.version ?? "unknown";
    } catch {
      return "unknown";
    }
  }
}
