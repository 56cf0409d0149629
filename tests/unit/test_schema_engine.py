"""The schema engine: merge semantics (property-based) and the shape of every error."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import (
    ConfigError,
    Option,
    Schema,
    check_cidr,
    check_cron,
    deep_merge,
    suggest,
)

KEYS = st.sampled_from(["a", "b", "c", "d", "config", "enabled"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)
MAPS = st.dictionaries(KEYS, TREES, max_size=4)


@settings(max_examples=300, deadline=None)
@given(MAPS, MAPS)
def test_merge_keeps_every_key_of_both_sides(base, override):
    merged = deep_merge(base, override)
    assert set(merged) == set(base) | set(override)


@settings(max_examples=300, deadline=None)
@given(MAPS, MAPS)
def test_merge_override_wins_unless_both_are_maps(base, override):
    merged = deep_merge(base, override)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            assert merged[key] == deep_merge(base[key], value)
        else:
            # lists and scalars replace; a list never concatenates with the default
            assert merged[key] == value
    for key in set(base) - set(override):
        assert merged[key] == base[key]


@settings(max_examples=200, deadline=None)
@given(MAPS)
def test_merge_with_empty_and_with_itself_is_identity(value):
    assert deep_merge(value, {}) == value
    assert deep_merge({}, value) == value
    assert deep_merge(value, value) == value


@settings(max_examples=200, deadline=None)
@given(MAPS, MAPS)
def test_merging_the_same_override_twice_changes_nothing(base, override):
    once = deep_merge(base, override)
    assert deep_merge(once, override) == once


@settings(max_examples=200, deadline=None)
@given(MAPS, MAPS)
def test_merge_does_not_alias_or_modify_inputs(base, override):
    import copy

    base_copy, override_copy = copy.deepcopy(base), copy.deepcopy(override)
    merged = deep_merge(base, override)
    assert base == base_copy and override == override_copy

    def containers(tree):
        if isinstance(tree, (dict, list)):
            yield id(tree)
            for child in tree.values() if isinstance(tree, dict) else tree:
                yield from containers(child)

    assert not set(containers(merged)) & (set(containers(base)) | set(containers(override)))


def test_lists_replace_not_append():
    assert deep_merge({"zones": ["raw", "models"]}, {"zones": ["raw"]}) == {"zones": ["raw"]}


def _validate(option, value):
    errors = []
    result = option.validate(value, "root", errors)
    return result, [str(e) for e in errors]


@pytest.mark.parametrize(
    "option, value, expected",
    [
        (Option("bool", "b", default=False), "yes", "root: 'yes' is a string, expected a boolean (true or false)"),
        (Option("bool", "b", default=False), 1, "root: 1 is an integer, expected a boolean (true or false)"),
        (Option("int", "i", default=1), True, "root: true is a boolean, expected an integer"),
        (Option("int", "i", default=1, minimum=2), 1, "root: 1 is below the minimum 2"),
        (Option("int", "i", default=1, maximum=2), 3, "root: 3 is above the maximum 2"),
        (Option("str", "s", default="a", choices=["single", "none"]), "singel",
         "root: 'singel' is not one of single, none (did you mean 'single'?)"),
        (Option("str", "s", default="a", max_length=3), "abcd", "root: 'abcd' is 4 characters long, the limit is 3"),
        (Option("str", "s", default="a", pattern=r"^a+$"), "b", "root: 'b' does not match ^a+$"),
        (Option("str", "s", required=True), None, "root: null must be set (expected a string)"),
        (Option("list", "l", default=[], min_items=1), [], "root: needs at least 1 item(s), has 0"),
        (Option("dict", "d", options={}), [1], "root: is a list, expected a mapping"),
        (Option("map", "m", default={}, key_pattern=r"^[a-z]+$"), {"A": 1},
         "root.A: is not a valid name (must match ^[a-z]+$)"),
    ],
)
def test_each_type_error_names_the_path_and_the_value(option, value, expected):
    assert _validate(option, value)[1] == [expected]


def test_float_accepts_integers_and_rejects_booleans():
    option = Option("float", "f", default=0.5, minimum=0.1, maximum=1.0)
    assert _validate(option, 1) == (1.0, [])
    assert _validate(option, False)[1] == ["root: false is a boolean, expected a number"]
    assert _validate(option, 1.5)[1] == ["root: 1.5 is above the maximum 1.0"]


def test_unique_lists_report_the_duplicate_index():
    option = Option("list", "l", default=[], elements=Option("str", "e", nullable=False), unique=True)
    assert _validate(option, ["a", "b", "a"])[1] == ["root[2]: 'a' is listed twice"]


def test_dict_fills_defaults_reports_unknown_and_required_keys():
    option = Option("dict", "d", options={
        "name": Option("str", "n", required=True),
        "size": Option("int", "s", default=3),
    })
    result, errors = _validate(option, {"sise": 4})
    assert result == {"size": 3}
    assert errors == [
        "root.sise: is not a known key (did you mean 'size'?); known keys: name, size",
        "root.name: is required: n",
    ]


def test_map_entries_get_their_own_defaults():
    option = Option("map", "m", default={}, values=Option("dict", "entry", options={
        "size": Option("int", "s", default=3),
        "tags": Option("map", "t", default={}),
    }))
    result, errors = _validate(option, {"one": {"size": 5}, "two": {}})
    assert errors == []
    assert result == {"one": {"size": 5, "tags": {}}, "two": {"size": 3, "tags": {}}}


def test_errors_deep_in_lists_carry_the_index():
    option = Option("list", "l", default=[], elements=Option("dict", "e", options={"days": Option("int", "d", default=1)}))
    assert _validate(option, [{"days": 1}, {"days": "x"}])[1] == ["root[1].days: 'x' is a string, expected an integer"]


def test_schema_reports_missing_required_variables_and_keeps_going():
    schema = Schema({
        "env": Option("dict", "e", options={"name": Option("str", "n", required=True)}),
        "group": Option("dict", "g", options={"on": Option("bool", "o", default=False)}),
    })
    config, errors = schema.validate({"group": {"on": "no"}})
    assert [str(e) for e in errors] == ["env.name: is required: n", "group.on: 'no' is a string, expected a boolean (true or false)"]


def test_long_values_are_shortened_in_messages():
    error = ConfigError("p", "is wrong", "x" * 500)
    assert len(str(error)) < 100 and str(error).endswith("... is wrong")


@pytest.mark.parametrize("value, fragment", [
    ("10.0.0.0/16", None),
    ("10.0.0.0/33", "is not a valid IPv4 CIDR"),
    ("10.0.0.1/16", "host bits set; did you mean 10.0.0.0/16?"),
    ("10.0.0.0", "prefix length is missing"),
    ("banana", "is not a valid IPv4 CIDR"),
])
def test_check_cidr(value, fragment):
    message = check_cidr(value)
    assert (message is None) if fragment is None else (fragment in message)


@pytest.mark.parametrize("value, ok", [("0 * * * *", True), ("@daily", True), ("@often", False), ("* * *", False)])
def test_check_cron(value, ok):
    assert (check_cron(value) is None) is ok


def test_suggest_only_near_misses():
    assert suggest("confg", ["config", "enabled"]) == " (did you mean 'config'?)"
    assert suggest("zzz", ["config", "enabled"]) == ""
    assert suggest(3, ["config"]) == ""
