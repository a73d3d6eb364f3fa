// Debian's Chromium for the browser and extension tests and benchmarks:
// never a downloaded browser. The flags keep it from reaching the network on
// its own (this machine's network is closed) and from needing a GPU.
import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export function checkChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (scripts/setup does)`);
}
