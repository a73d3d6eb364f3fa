// The compiled form of a policy set, built at load in one arena: policies,
// rules, rate limits, the paths they read, and the rule index. Strings are
// (pointer, length) pairs into the arena.

import { Arena } from "./memory";
import { ByteMap } from "./bytemap";
import { PathSet } from "./paths";

export const EFFECT_DENY: u32 = 0;
export const EFFECT_ALLOW: u32 = 1;
export const EFFECT_ESCALATE: u32 = 2;

/** Precedence at a full tie: deny beats escalate beats allow (§5). */
// @ts-ignore: decorator
@inline export function effectRank(effect: u32): u32 {
  return effect == EFFECT_DENY ? 2 : effect == EFFECT_ESCALATE ? 1 : 0;
}

@unmanaged export class Policy {
  index: u32;
  name: usize;
  nameLen: u32;
  hasName: u32;
  defaultAllow: u32;
  zone: u32; // index in the tzdata list
  zoneSlot: i32; // index in the set's zones, -1 when no rule reads time.*
  trustLevels: usize; // (pointer, length) u32 pairs, lowest first
  trustCount: u32;
  hasAgentMatch: u32;
  ids: usize; // Pattern structs
  idCount: u32;
  tags: usize; // (pointer, length) u32 pairs
  tagCount: u32;
  rules: usize; // first Rule struct (contiguous)
  ruleCount: u32;
  limits: usize; // first Limit struct (contiguous)
  limitCount: u32;
}

@unmanaged export class Rule {
  policy: u32;
  index: u32;
  order: u32; // position among all rules of the set
  effect: u32;
  // actions … resourceCount: the same four fields, in this order, as Limit (compile.ts reads both at once).
  actions: usize; // Pattern structs
  actionCount: u32;
  resources: usize;
  resourceCount: u32;
  trust: i32; // required rank, -1 for none
  trustText: usize;
  trustLen: u32;
  conditionCount: u32; // §5 (c): object keys, expression strings and a trust requirement
  cond: usize; // Cond, 0 when none
  name: usize;
  nameLen: u32;
  hasName: u32;
}

export const SCOPE_AGENT: u32 = 0;
export const SCOPE_GLOBAL: u32 = 1;
export const SCOPE_CONTEXT: u32 = 2;

@unmanaged export class Limit {
  policy: u32;
  index: u32;
  actions: usize; // as in Rule
  actionCount: u32;
  resources: usize;
  resourceCount: u32;
  limit: u32;
  periodSeconds: i64; // saturated far beyond any time span
  scope: u32;
  scopeRef: u32; // context slot for SCOPE_CONTEXT
  scopeText: usize; // "agent", "global" or "context.<path>"
  scopeLen: u32;
  policyName: usize;
  policyNameLen: u32;
  hasPolicyName: u32;
  state: usize; // RateState, on the heap: it outlives the arena across reloads
}

// The rule index: action keys to buckets, each bucket resource keys to
// lists of alternatives (one per action pattern × resource pattern of a rule).

@unmanaged export class Alt {
  rule: usize;
  action: usize; // Pattern
  resource: usize; // Pattern
  next: usize;
}

@unmanaged export class Bucket {
  exact: ByteMap; // resource literal → Alt list
  prefix: ByteMap; // resource literal prefix → Alt list
  lens: usize; // sorted distinct lengths of `prefix` keys (u32)
  lensCount: u32;
  number: u32; // position among the set's buckets (used while building)
}

@unmanaged export class PolicySet {
  arena: Arena;
  policies: usize; // Policy structs
  policyCount: u32;
  rules: usize; // Rule pointers (u32) in order
  ruleCount: u32;
  limits: usize; // Limit pointers (u32) in policy, then list order
  limitCount: u32;
  paths: PathSet;
  pathRank: usize; // u32 per published path id: its place in code-point order
  zones: usize; // u32 tzdata index per zone slot
  zoneCount: u32;
  exact: ByteMap; // action literal → Bucket
  prefix: ByteMap; // action literal prefix → Bucket
  lens: usize; // sorted distinct lengths of `prefix` keys
  lensCount: u32;
  maxResourcePrefix: u32;
  // Per-decision tables, sized here so a decision allocates nothing.
  ruleStamp: usize; // u32 per rule
  ruleSpec: usize; // per rule: resource lit, resource wild, action lit, action wild (u32 each)
  visited: usize; // u32 rule orders seen by this decision
  pathMarks: usize; // u32 per path
  pathList: usize; // u32 per path
  policyStamp: usize; // u32 per policy: the decision that computed the next two
  applicable: usize; // u8 per policy
  agentRank: usize; // i32 per policy: the agent's trust rank there, -1 for none
  plainPolicies: u32; // policies without agent_match (they always apply)
  plainAllAllow: u32; // whether all of those default to allow
  matchPolicies: usize; // u32 Policy pointers of the policies with agent_match
  matchCount: u32;
  slotDepth: usize; // u32 per context path: how deep its value may nest (§1a)
  timeCache: usize;
  resourceHashes: usize; // u32 per resource prefix length 0..maxResourcePrefix
  slotValues: usize; // u32 per context path
  offsets: usize; // i32 per zone: a copy of the request's
}
