// The `warden` command.
import { validate } from "./validate.js";
import { check } from "./check.js";
import { runTests } from "./policy-tests.js";
import { init } from "./init.js";
import { UsageError } from "./usage.js";

const USAGE = `warden — policies for AI agents

usage:
  warden validate FILE...
      Check policy files (YAML or JSON); print every error as
      file:line:col pointer message. Exit 1 when there is any.

  warden check --policy FILE... [--agent JSON] [--context JSON] [--time RFC3339] [--explain] ACTION [RESOURCE]
      Decide one request and print the decision (exit 0 allowed, 1 denied or escalated).

  warden check --policy FILE... --requests FILE.jsonl --json
      Decide a file of requests (one JSON object a line: action, resource,
      context, agent, time) in order against one engine; print one JSON line
      per request. Exit 2 when the policies do not load.

  warden test FILE...
      Run policy test files (groups of policies or policy_files, and cases
      with expect); report each case. Exit 1 when any fails.

  warden init [DIR] [--force]
      Write a starter policy (a customer-support bot) and its tests into DIR.

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
    case undefined:
    case "help":
    case "-h":
    case "--help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command \`${command}\`: use validate, check, test or init`);
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
