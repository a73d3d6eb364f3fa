// UTC offsets of IANA time zones, which the engine needs for `time.*`
// (policy-language.md §1 `timezone`, §3): computed with Intl, cached per zone
// and minute, and only for policy sets that read the time.

import { WardenError } from "./errors.js";

const formatters = new Map<string, Intl.DateTimeFormat>();
const cached = new Map<string, { minute: number; offset: number }>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new WardenError("ERR_TIMEZONE_UNSUPPORTED", `this runtime's Intl does not know the time zone \`${zone}\``);
    }
    formatters.set(zone, f);
  }
  return f;
}

/** Throws ERR_TIMEZONE_UNSUPPORTED when this runtime cannot compute the zone's offsets. */
export function checkZone(zone: string): void {
  formatter(zone);
}

/** Seconds east of UTC in `zone` at `epochMs`. */
export function zoneOffset(zone: string, epochMs: number): number {
  if (zone === "UTC" || zone === "Etc/UTC") return 0;
  const minute = Math.floor(epochMs / 60000);
  const hit = cached.get(zone);
  if (hit && hit.minute === minute) return hit.offset;
  const seconds = Math.floor(epochMs / 1000);
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let bc = false;
  for (const part of formatter(zone).formatToParts(new Date(seconds * 1000))) {
    const n = Number(part.value);
    switch (part.type) {
      case "year": year = n; break;
      case "month": month = n; break;
      case "day": day = n; break;
      case "hour": hour = n; break;
      case "minute": min = n; break;
      case "second": sec = n; break;
      case "era": bc = part.value.startsWith("B"); break;
    }
  }
  if (bc) year = 1 - year;
  const wall = new Date(0);
  wall.setUTCFullYear(year, month - 1, day);
  wall.setUTCHours(hour, min, sec, 0);
  const offset = Math.round((wall.getTime() - seconds * 1000) / 1000);
  cached.set(zone, { minute, offset });
  return offset;
}
