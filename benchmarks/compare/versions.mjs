// Versions of the installed packages, read from their package.json files.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

const benchmarks = fileURLToPath(new URL("..", import.meta.url));

export function packageVersion(name) {
  return JSON.parse(readFileSync(realpathSync(`${benchmarks}/node_modules/${name}/package.json`), "utf8")).version;
}
