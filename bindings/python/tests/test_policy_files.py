"""Policy files in YAML 1.2 or JSON, every error at file:line:col — what
bindings/node's policy-files tests pin, in Python."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from warden import (
    PolicyError,
    PolicyInvalidError,
    Warden,
    format_error,
    read_policy_files,
)

Files = Callable[[dict[str, str]], Callable[[str], str]]


def load_errors(paths: list[str]) -> list[PolicyError]:
    with pytest.raises(PolicyInvalidError) as caught:
        Warden.from_file(paths)
    assert caught.value.code == "ERR_POLICY_INVALID"
    return caught.value.errors


def test_map_an_engine_errors_pointer_to_the_line_and_column_of_a_yaml_file(write_files: Files) -> None:
    path = write_files({
        "bot.yaml": "\n".join([
            "name: support-bot",
            "rules:",
            "  - effect: allow",
            "    action: tool.call",
            "    resource: tool/lookup_order",
            "  - effect: deny",
            "    action: tool.call",
            "    conditon:",
            "      amount: { gt: 500 }",
            "",
        ]),
    })
    errors = load_errors([path("bot.yaml")])
    assert len(errors) == 1
    e = errors[0]
    assert (e.file, e.line, e.column, e.policy, e.pointer) == (path("bot.yaml"), 8, 5, 0, "/rules/1/conditon")
    assert format_error(e) == f"{path('bot.yaml')}:8:5 /rules/1/conditon unknown field `conditon` in a rule (did you mean `conditions`?)"
    assert str(e) == format_error(e)


def test_name_a_missing_member_by_the_place_its_parent_stands(write_files: Files) -> None:
    path = write_files({"p.yaml": "rules:\n  - effect: allow\n    resource: r\n"})
    e = load_errors([path("p.yaml")])[0]
    assert (e.pointer, e.line, e.column) == ("/rules/0/action", 2, 5)


def test_point_at_a_bad_value_inside_a_list(write_files: Files) -> None:
    path = write_files({"p.yaml": "rules:\n  - effect: allow\n    action: [ok, 'bad\\']\n"})
    e = load_errors([path("p.yaml")])[0]
    assert (e.pointer, e.line, e.column) == ("/rules/0/action/1", 3, 18)
    assert "\\" in e.message


def test_concatenate_files_in_order_each_a_policy_or_a_list_yaml_or_json(write_files: Files) -> None:
    path = write_files({
        "a.json": json.dumps([{"name": "a", "rules": [{"effect": "allow", "action": "a"}]}, {"name": "b", "rules": []}]),
        "c.yaml": "name: c\nrules:\n  - { effect: deny, action: c, resource: x }\n",
        "d.yml": "---\nname: d\nrules: []\n---\nname: e\nrules: [{ effect: allow, action: e }]\n",
    })
    w = Warden.from_file([path("a.json"), path("c.yaml"), path("d.yml")])
    assert w.metadata is not None and [p["name"] for p in w.metadata["policies"]] == ["a", "b", "c", "d", "e"]
    assert w.files == [path("a.json"), path("a.json"), path("c.yaml"), path("d.yml"), path("d.yml")]
    assert w.check("e").policy == 4
    bad = write_files({"bad.json": '[{"rules": [{"effect": "allow", "action": 7}]}]'})
    e = load_errors([path("a.json"), bad("bad.json")])[0]
    assert (e.policy, e.pointer, e.line, e.column, e.file) == (2, "/rules/0/action", 1, 33, bad("bad.json"))


def test_a_failed_file_load_keeps_the_policies_in_force(write_files: Files) -> None:
    path = write_files({"good.yaml": "rules: [{effect: allow, action: a}]\n", "bad.yaml": "rules: [{effect: permit, action: a}]\n"})
    w = Warden.from_file(path("good.yaml"))
    with pytest.raises(PolicyInvalidError):
        w.load_file(path("bad.yaml"))
    assert w.check("a").allowed
    assert w.files == [path("good.yaml")]


def test_read_yaml_with_the_1_2_core_schema_as_json_would(write_files: Files) -> None:
    path = write_files({
        "s.yaml": "rules:\n  - effect: allow\n    action: a\n    conditions: { flag: on, answer: no, n: 010, o: 0o10, h: 0x1F, "
                  "u: 1_000, d: 2026-03-05, y: yes, t: True, f: 1.5e3, z: ~, q: '010' }\n",
    })
    policies = read_policy_files(path("s.yaml")).policies
    assert policies[0]["rules"][0]["conditions"] == {
        "flag": "on", "answer": "no", "n": 10, "o": 8, "h": 31, "u": "1_000", "d": "2026-03-05", "y": "yes",
        "t": True, "f": 1500.0, "z": None, "q": "010",
    }


def test_decide_on_and_no_as_the_strings_they_are(write_files: Files) -> None:
    path = write_files({"s.yaml": "rules:\n  - effect: allow\n    action: a\n    conditions: { switch: on, answer: no }\n"})
    w = Warden.from_file(path("s.yaml"))
    assert w.check("a", context={"switch": "on", "answer": "no"}).allowed
    assert not w.check("a", context={"switch": True, "answer": False}).allowed


def test_read_json_as_json_reads_it(write_files: Files) -> None:
    text = '{\n\t"rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/\\ud83d\\ude00\\u00e9\\/x", "conditions": {"n": 1E2}}]\n}\n'
    path = write_files({"p.json": text})
    assert read_policy_files(path("p.json")).policies == [json.loads(text)]


def test_refuse_duplicate_keys_bad_syntax_and_numbers_json_cannot_carry_with_their_places(write_files: Files) -> None:
    path = write_files({
        "dup.yaml": "rules: []\nname: a\nname: b\n",
        "dup.json": '[{"rules": [], "name": "a",\n  "name": "b"}]',
        "syntax.json": '[{"rules": [}]',
        "inf.yaml": "rules:\n  - effect: allow\n    action: a\n    conditions: { n: { lt: .inf } }\n",
        "surrogate.json": '[{"rules": [], "name": "\\ud800"}]',
        "tag.yaml": "rules: []\nname: !!binary aGVsbG8=\n",
        "empty.yaml": "# nothing\n",
        "latin1.yaml": "name: caf\xe9\n",
    })
    (dup,) = load_errors([path("dup.yaml")])
    assert (dup.line, dup.column, dup.message, dup.policy, dup.pointer) == (3, 1, "duplicate member: a name may appear only once in a mapping", 0, "/name")
    (dup_json,) = load_errors([path("dup.json")])
    assert (dup_json.line, dup_json.column, dup_json.pointer) == (2, 3, "/name")
    syntax = load_errors([path("syntax.json")])[0]
    assert (syntax.file, syntax.line, syntax.column) == (path("syntax.json"), 1, 13)
    inf = load_errors([path("inf.yaml")])[0]
    assert (inf.policy, inf.pointer, inf.line) == (0, "/rules/0/conditions/n/lt", 4)
    surrogate = load_errors([path("surrogate.json")])[0]
    assert "lone surrogate" in surrogate.message and surrogate.pointer == "/name"
    tag = load_errors([path("tag.yaml")])[0]
    assert "unsupported tag" in tag.message and tag.line == 2
    assert "holds no policy" in load_errors([path("empty.yaml")])[0].message
    assert "cannot read the file" in load_errors([path("nope.yaml")])[0].message
    with open(path("latin1.yaml"), "wb") as f:
        f.write(b"name: caf\xe9\nrules: []\n")
    assert "not UTF-8" in load_errors([path("latin1.yaml")])[0].message


def test_refuse_aliases_that_expand_without_end(write_files: Files) -> None:
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        laughs.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]")
    path = write_files({"laughs.yaml": "\n".join(laughs) + "\nrules: []\n"})
    assert "values through aliases" in load_errors([path("laughs.yaml")])[0].message


def test_anchors_and_aliases_copy_values(write_files: Files) -> None:
    path = write_files({"a.yaml": "- name: a\n  rules: &shared [{effect: allow, action: a}]\n- name: b\n  rules: *shared\n"})
    w = Warden.from_file(path("a.yaml"))
    assert w.metadata is not None and [len(p["rules"]) for p in w.metadata["policies"]] == [1, 1]
    assert w.check("a").allowed
