// An AuditSink that appends each record to a file as one line of JSON (JSON
// Lines), the file created with mode 0600 (records hold request context).
// Writes are buffered by a stream, so a check never waits on the disk; a
// write error is thrown by the next record's write, which the Warden reports
// as an `auditError` event. `close()` resolves once every record is on disk.
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { AuditRecord, AuditSink } from "@warden/core";

export interface AuditLog extends AuditSink {
  /** The file the records go to. */
  readonly path: string;
  /** Resolves once every record written so far has reached the file. */
  flush(): Promise<void>;
  /** Flushes, then closes the file: records after it are refused. */
  close(): Promise<void>;
}

/** An audit sink appending JSON lines to `path` (its folder is made when missing). */
export function auditLog(path: string): AuditLog {
  mkdirSync(dirname(path), { recursive: true });
  const stream = createWriteStream(path, { flags: "a", mode: 0o600 });
  let failure: Error | null = null;
  stream.on("error", (e) => {
    failure = e;
  });
  const sink = ((record: AuditRecord) => {
    if (failure) throw new Error(`the audit log ${path} cannot be written: ${failure.message}`);
    if (stream.writableEnded) throw new Error(`the audit log ${path} is closed`);
    stream.write(`${JSON.stringify(record)}\n`);
  }) as AuditLog;
  Object.defineProperty(sink, "path", { value: path, enumerable: true });
  sink.flush = () => new Promise<void>((resolve, reject) => {
    if (failure) return reject(failure);
    if (stream.writableEnded) return resolve();
    // An empty write calls back once everything before it is written.
    stream.write("", (e) => (e ? reject(e) : resolve()));
  });
  sink.close = () => new Promise<void>((resolve, reject) => {
    if (stream.writableEnded) return resolve();
    stream.end((e?: Error | null) => (e ?? failure ? reject(e ?? failure) : resolve()));
  });
  return sink;
}
