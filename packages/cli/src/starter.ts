// What `warden init` writes: a starter policy and the tests it passes.

export const STARTER_POLICY = `# A customer-support bot: it may look up orders and accounts, refund up to
# $50 on its own and up to $500 when its trust level is \`elevated\`; a person
# approves anything larger; only \`admin\` agents change accounts. Anything
# not allowed here is denied.
name: support-bot
description: Tools and refunds for the customer-support agent
rules:
  - name: lookups
    effect: allow
    action: tool.call
    resource: [tool/lookup_order, tool/lookup_account]

  - name: small refunds
    effect: allow
    action: tool.call
    resource: tool/issue_refund
    conditions: context.amount <= 50

  - name: elevated refunds
    effect: allow
    action: tool.call
    resource: tool/issue_refund
    trust_level: elevated
    conditions: context.amount <= 500

  - name: large refunds
    effect: escalate
    action: tool.call
    resource: tool/issue_refund
    conditions: context.amount > 500
    reason: refunds over $500 need a person's approval

  # The trust requirement counts as a condition, so for an admin the allow
  # below is more specific than this deny, which answers everyone else.
  - name: account changes
    effect: deny
    action: tool.call
    resource: tool/update_account
    reason: only admins change accounts

  - name: admin account changes
    effect: allow
    action: tool.call
    resource: tool/update_account
    trust_level: admin
`;

export const STARTER_TESTS = `# Run with: warden test tests/support-bot.test.yaml
groups:
  - name: support bot
    policy_files: [../policies/support-bot.yaml]
    cases:
      - name: looks up an order
        request: { action: tool.call, resource: tool/lookup_order, context: { order_id: ord_1001 } }
        expect: { allowed: true, policy: 0, rule: 0 }

      - name: refunds $20 on its own
        request: { action: tool.call, resource: tool/issue_refund, context: { amount: 20 }, agent: { id: bot-1, trust_level: basic } }
        expect: { allowed: true, policy: 0, rule: 1 }

      - name: cannot refund $300 at basic trust
        request: { action: tool.call, resource: tool/issue_refund, context: { amount: 300 }, agent: { id: bot-1, trust_level: basic } }
        expect: { allowed: false, policy: null, rule: null, effect: deny }

      - name: refunds $300 at elevated trust
        request: { action: tool.call, resource: tool/issue_refund, context: { amount: 300 }, agent: { id: bot-2, trust_level: elevated } }
        expect: { allowed: true, policy: 0, rule: 2 }

      - name: escalates a $600 refund to a person
        request: { action: tool.call, resource: tool/issue_refund, context: { amount: 600 }, agent: { id: bot-2, trust_level: elevated } }
        expect: { allowed: false, effect: escalate, policy: 0, rule: 3, reason: "refunds over $500 need a person's approval" }

      - name: escalates a refund with no amount (fail closed)
        request: { action: tool.call, resource: tool/issue_refund, context: {} }
        expect: { allowed: false, effect: escalate, policy: 0, rule: 3, indeterminate: [context.amount] }

      - name: cannot change an account below admin
        request: { action: tool.call, resource: tool/update_account, agent: { id: bot-2, trust_level: elevated } }
        expect: { allowed: false, policy: 0, rule: 4, reason: only admins change accounts }

      - name: an admin changes an account
        request: { action: tool.call, resource: tool/update_account, agent: { id: lead-1, trust_level: admin } }
        expect: { allowed: true, policy: 0, rule: 5 }

      - name: cannot call any other tool
        request: { action: tool.call, resource: tool/delete_account }
        expect: { allowed: false, policy: null, rule: null }
`;
