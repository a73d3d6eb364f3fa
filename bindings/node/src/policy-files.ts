// Policy files: YAML (1.2, core schema, so `on`, `no` and `010` stay a
// string, a string and the number 10) or JSON — which the same parser reads,
// JSON being YAML 1.2. A file holds one policy document or an array of them
// (a YAML stream may also hold several documents); several files concatenate
// in order. Every error the engine reports by JSON pointer is mapped back to
// `file:line:col` here.

import { readFile } from "node:fs/promises";
import { LineCounter, parseAllDocuments, isMap, isSeq, isScalar, type Node, type Document } from "yaml";
import { PolicyInvalidError, type PolicyDocument, type PolicyError } from "@warden/core";

/** A load error with where it stands in the source files. */
export interface LocatedPolicyError extends PolicyError {
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based, in characters. */
  column?: number;
}

/** Policies read from files, and how to find each error's place in them. */
export interface PolicyFiles {
  /** The policy documents, in order. */
  policies: PolicyDocument[];
  /** The file of each policy, by index. */
  files: string[];
  /** Adds `file`, `line` and `column` to an error the engine reported. */
  locate(error: PolicyError): LocatedPolicyError;
}

interface Source {
  file: string;
  node: Node | null;
  lines: LineCounter;
}

function position(source: Source, offset: number): { line: number; column: number } {
  const p = source.lines.linePos(offset);
  return { line: p.line, column: p.col };
}

/**
 * The node a pointer names — for a member, its key, where a misspelt or
 * misplaced field shows — or the deepest node on its way (a missing member is
 * named by the pointer it would have).
 */
function nodeAt(root: Node | null, pointer: string): Node | null {
  if (pointer === "") return root;
  const segments = pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  let node = root;
  for (let i = 0; i < segments.length; i++) {
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segments[i]);
      if (!pair) return node;
      const next = last ? (pair.key as Node) : (pair.value as Node | null);
      if (next === null) return pair.key as Node;
      node = next;
    } else if (isSeq(node)) {
      const item = node.items[Number(segments[i])] as Node | undefined;
      if (item === undefined || item === null) return node;
      node = item;
    } else return node;
  }
  return node;
}

const SYNTAX_MESSAGES: Partial<Record<string, string>> = {
  DUPLICATE_KEY: "duplicate member: a name may appear only once in a mapping",
};

function yamlError(file: string, lines: LineCounter, e: { code: string; message: string; pos: [number, number] }): LocatedPolicyError {
  const p = lines.linePos(e.pos[0]);
  const message = SYNTAX_MESSAGES[e.code] ?? e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  return { policy: -1, pointer: "", message: message.charAt(0).toLowerCase() + message.slice(1), file, line: p.line, column: p.col };
}

/** Reports numbers JSON cannot carry (YAML's `.inf`, `.nan`, or a literal too large for a double). */
function nonFinite(value: unknown, pointer: string, found: string[]): void {
  if (typeof value === "number" && !Number.isFinite(value)) found.push(pointer);
  else if (Array.isArray(value)) value.forEach((v, i) => nonFinite(v, `${pointer}/${i}`, found));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) nonFinite(v, `${pointer}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`, found);
  }
}

/**
 * Reads policy files. Throws `PolicyInvalidError` (`ERR_POLICY_INVALID`),
 * every error located, when a file is not well-formed YAML or JSON, has
 * duplicate keys, or holds something other than policy documents.
 */
export async function readPolicyFiles(paths: string | readonly string[]): Promise<PolicyFiles> {
  const list = typeof paths === "string" ? [paths] : paths;
  const sources: Source[] = [];
  const policies: PolicyDocument[] = [];
  const errors: LocatedPolicyError[] = [];
  for (const file of list) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      errors.push({ policy: -1, pointer: "", message: `cannot read the file: ${(e as Error).message}`, file });
      continue;
    }
    const lines = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter: lines, schema: "core", uniqueKeys: true, prettyErrors: false });
    const documents = Array.isArray(parsed) ? (parsed as Document.Parsed[]) : [];
    if (documents.length === 0) {
      errors.push({ policy: -1, pointer: "", message: "the file holds no policy: write a policy document or an array of them", file, line: 1, column: 1 });
      continue;
    }
    for (const doc of documents) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) errors.push(yamlError(file, lines, e));
        continue;
      }
      const contents = doc.contents as Node | null;
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        errors.push({ policy: -1, pointer: "", message: (e as Error).message, file, ...position({ file, node: null, lines }, contents?.range?.[0] ?? 0) });
        continue;
      }
      const items: Array<[unknown, Node | null]> = isSeq(contents)
        ? (value as unknown[]).map((v, i) => [v, (contents.items[i] as Node) ?? null])
        : [[value, contents]];
      for (const [policy, node] of items) {
        const index = policies.length;
        const source = { file, node, lines };
        sources.push(source);
        policies.push(policy as PolicyDocument);
        const found: string[] = [];
        nonFinite(policy, "", found);
        for (const pointer of found) {
          const at = nodeAt(node, pointer);
          errors.push({
            policy: index, pointer, message: "a number JSON cannot carry (infinite, not a number, or too large for a double)",
            file, ...position(source, at?.range?.[0] ?? 0),
          });
        }
      }
    }
  }
  const locate = (error: PolicyError): LocatedPolicyError => {
    const source = sources[error.policy];
    if (!source) return error;
    const node = nodeAt(source.node, error.pointer);
    return { ...error, file: source.file, ...position(source, node?.range?.[0] ?? 0) };
  };
  if (errors.length > 0) throw new PolicyInvalidError(errors);
  return { policies, files: sources.map((s) => s.file), locate };
}

/** `file:line:col pointer message`, the form `warden validate` prints. */
export function formatError(e: LocatedPolicyError): string {
  const where = e.file ? `${e.file}${e.line ? `:${e.line}:${e.column}` : ""}` : `policy ${e.policy}`;
  return `${where} ${e.pointer || "/"} ${e.message}`;
}
