// The `warden` command.
import { validate } from "./validate.js";
import { check } from "./check.js";
import { runTests } from "./policy-tests.js";
import { init } from "./init.js";
import { keygen } from "./keygen.js";
import { bundle } from "./bundle-command.js";
import { audit } from "./audit.js";
import { UsageError } from "./usage.js";

const USAGE = `warden — policies for AI agents

usage:
  warden validate FILE...
      Check policy files (YAML or JSON); print every error as
      file:line:col pointer message. Exit 1 when there is any.

  warden check --policy FILE... [--agent JSON] [--context JSON] [--time RFC3339] [--explain] [--audit FILE] ACTION [RESOURCE]
      Decide one request and print the decision (exit 0 allowed, 1 denied or escalated).

  warden check --policy FILE... --requests FILE.jsonl --json [--audit FILE]
      Decide a file of requests (one JSON object a line: action, resource,
      context, agent, time) in order against one engine; print one JSON line
      per request. Exit 2 when the policies do not load.

      With --audit FILE, either form also appends an audit record (a JSON
      line) for each decision the policies record (rule log, audit settings).

  warden audit FILE... [--effect allow|deny|escalate]... [--agent ID] [--since RFC3339] [--json]
      Print the records of audit logs, one a line (or as JSON lines), and
      how many there were. Exit 1 when a line is not an audit record.

  warden test FILE...
      Run policy test files (groups of policies or policy_files, and cases
      with expect); report each case. Exit 1 when any fails.

  warden init [DIR] [--force]
      Write a starter policy (a customer-support bot) and its tests into DIR.

  warden keygen --out DIR --key-id ID
      Make an Ed25519 signing key: DIR/ID.key (PKCS#8 PEM, mode 0600) and
      DIR/ID.pub (the public key, base64url, for clients' trusted keys).

  warden bundle build --policy FILE... --key DIR/ID.key --project ID (--project-key KEY | --plain) [--version N] [--out FILE]
      Validate the policies, then write a signed bundle, encrypted with the
      project key (or WARDEN_PROJECT_KEY). --version defaults to one more
      than the bundle at --out (default ID.bundle.json).

  warden bundle inspect FILE --project ID --trust ID=PUBLIC_KEY... [--project-key KEY] [--allow-plain] [--after FILE] [--json]
      Load a bundle as a client would (after --after, to see a rollback
      refused) and print what it holds, or the error code. Exit 1 when it
      does not load.

  warden bundle serve DIR [--port N] [--host H]
      Serve bundles for development, with ETag and If-None-Match (port 8787).

Exit codes: 0 ok, 1 a failing result, 2 a usage, file or policy error.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "validate":
      return validate(rest);
    case "check":
      return check(rest);
    case "test":
      return runTests(rest);
    case "init":
      return init(rest);
    case "keygen":
      return keygen(rest);
    case "bundle":
      return bundle(rest);
    case "audit":
      return audit(rest);
    case undefined:
    case "help":
    case "-h":
    case "--help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command \`${command}\`: use validate, check, test, init, keygen, bundle or audit`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) console.error(`warden: ${e.message}\nrun \`warden --help\` for usage`);
    else console.error(`warden: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
