import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";

/** A YAML (1.2, core schema) or JSON file's value; throws with the file's name and the parser's place. */
export async function readDataFile(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  const doc = parseDocument(text, { schema: "core", uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
  return doc.toJS({ maxAliasCount: 100 });
}
