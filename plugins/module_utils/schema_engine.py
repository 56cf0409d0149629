# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small declarative schema for the platform configuration.

Pure Python, no Ansible and no network: the same code validates inventories in the
``configuration`` module, renders docs/configuration.md and runs under pytest.

Semantics, fixed here once for every component:

* ``deep_merge(defaults, user)``: maps merge recursively, everything else (lists, scalars,
  ``None``) replaces.  A user value of another type than the default replaces it too, so
  the type error is reported by validation at the user's own path.
* ``Schema.validate(value)`` walks the merged tree, fills the defaults of entries that
  cannot be pre-merged (entries of free-form maps and of lists), and collects **every**
  error, each with the dotted path of the offending value.  It never raises on bad input.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import ipaddress
import re

_MISSING = object()


class ConfigError:
    """One validation failure: where it is, what was found, what is wrong."""

    __slots__ = ("path", "value", "message")

    def __init__(self, path, message, value=_MISSING):
        self.path = path
        self.message = message
        self.value = value

    def __str__(self):
        if self.value is _MISSING:
            return "%s: %s" % (self.path, self.message)
        return "%s: %s %s" % (self.path, describe_value(self.value), self.message)

    def __repr__(self):
        return "ConfigError(%r)" % str(self)

    def as_dict(self):
        result = {"path": self.path, "message": self.message}
        if self.value is not _MISSING:
            result["value"] = self.value
        return result


def describe_value(value, limit=60):
    """A short, unambiguous rendering of a user value for error messages."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, (list, tuple)):
        text = "a list"
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def with_article(noun):
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def join_path(path, key):
    if not path:
        return str(key)
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key)


def suggest(name, candidates):
    """``" (did you mean 'x'?)"`` for a near-miss, else an empty string."""
    if not isinstance(name, str):
        return ""
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return " (did you mean %r?)" % matches[0] if matches else ""


def deep_merge(base, override):
    """Merge ``override`` over ``base``: maps merge recursively, anything else replaces.

    Neither argument is modified; the result shares no mutable containers with them.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        merged = {key: _copy(value) for key, value in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else _copy(value)
        return merged
    return _copy(override)


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------
# Value checks shared by several options.  Each returns an error message or None.


def check_cidr(value):
    """An IPv4 network address with its prefix length."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            return "is not a network address (host bits set; did you mean %s?)" % (
                ipaddress.IPv4Network(value, strict=False)
            )
        return "is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/16)"
    if "/" not in value:
        return "is not a valid IPv4 CIDR: the prefix length is missing (e.g. /16)"
    del network
    return None


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")


def check_cron(value):
    """A five-field cron schedule or a macro such as @daily."""
    if value.startswith("@"):
        if value in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
            return None
        return "is not a cron macro (@hourly, @daily, @weekly, @monthly, @yearly)"
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(field) for field in fields):
        return "is not a five-field cron schedule (e.g. '0 * * * *')"
    return None


# ---------------------------------------------------------------------------------------


class Option:
    """One configuration key.

    ``kind`` is one of ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict`` (fixed
    keys given by ``options``) or ``map`` (free keys, each value shaped by ``values``).
    ``elements`` shapes list items.  ``check`` is a callable ``value -> message|None`` for
    rules beyond type and range.
    """

    KINDS = ("str", "int", "float", "bool", "list", "dict", "map")

    def __init__(
        self,
        kind,
        description,
        default=None,
        choices=None,
        minimum=None,
        maximum=None,
        pattern=None,
        max_length=None,
        min_items=None,
        max_items=None,
        unique=False,
        elements=None,
        options=None,
        values=None,
        key_pattern=None,
        key_choices=None,
        nullable=None,
        required=False,
        check=None,
        key_noun="key",
    ):
        if kind not in self.KINDS:
            raise ValueError("unknown option kind %r" % kind)
        self.kind = kind
        self.description = description
        self._default = default
        self.choices = choices
        self.minimum = minimum
        self.maximum = maximum
        self.pattern = re.compile(pattern) if pattern else None
        self.max_length = max_length
        self.min_items = min_items
        self.max_items = max_items
        self.unique = unique
        self.elements = elements
        self.options = options or {}
        self.values = values
        self.key_pattern = re.compile(key_pattern) if key_pattern else None
        self.key_choices = key_choices
        # Unless told, an optional key without a default may be null ("not set").
        if nullable is None:
            nullable = default is None and not required and kind in ("str", "int", "float")
        self.nullable = nullable
        self.required = required
        self.check = check
        self.key_noun = key_noun

    # -- defaults --------------------------------------------------------------------------

    def default(self):
        """The default value, with nested defaults of a fixed-key mapping filled in."""
        if self.kind == "dict":
            value = {name: option.default() for name, option in self.options.items() if not option.required}
            return deep_merge(value, self._default or {})
        return _copy(self._default)

    # -- validation ------------------------------------------------------------------------

    def validate(self, value, path, errors):
        """Return ``value`` with entry defaults filled in; append problems to ``errors``."""
        if value is None:
            if not self.nullable:
                errors.append(ConfigError(path, "must be set (expected %s)" % with_article(self._expected()), None))
            return value
        validator = getattr(self, "_validate_" + self.kind)
        return validator(value, path, errors)

    def _expected(self):
        return {
            "str": "string",
            "int": "integer",
            "float": "number",
            "bool": "boolean (true or false)",
            "list": "list",
            "dict": "mapping",
            "map": "mapping",
        }[self.kind]

    def _type_error(self, value, path, errors):
        message = "is %s, expected %s" % (with_article(type_name(value)), with_article(self._expected()))
        if isinstance(value, (dict, list, tuple)):
            errors.append(ConfigError(path, message))
        else:
            errors.append(ConfigError(path, message, value))
        return value

    def _check_choices(self, value, path, errors):
        if self.choices is not None and value not in self.choices:
            errors.append(
                ConfigError(
                    path,
                    "is not one of %s%s" % (", ".join(str(c) for c in self.choices), suggest(value, self.choices)),
                    value,
                )
            )
            return False
        return True

    def _check_range(self, value, path, errors):
        if self.minimum is not None and value < self.minimum:
            errors.append(ConfigError(path, "is below the minimum %s" % self.minimum, value))
        elif self.maximum is not None and value > self.maximum:
            errors.append(ConfigError(path, "is above the maximum %s" % self.maximum, value))

    def _run_check(self, value, path, errors):
        if self.check is not None:
            message = self.check(value)
            if message:
                errors.append(ConfigError(path, message, value))

    def _validate_str(self, value, path, errors):
        if not isinstance(value, str):
            return self._type_error(value, path, errors)
        value = str(value)
        if not self._check_choices(value, path, errors):
            return value
        if self.max_length is not None and len(value) > self.max_length:
            errors.append(
                ConfigError(path, "is %d characters long, the limit is %d" % (len(value), self.max_length), value)
            )
        elif self.pattern is not None and not self.pattern.match(value):
            errors.append(ConfigError(path, "does not match %s" % self.pattern.pattern, value))
        else:
            self._run_check(value, path, errors)
        return value

    def _validate_int(self, value, path, errors):
        if isinstance(value, bool) or not isinstance(value, int):
            return self._type_error(value, path, errors)
        if self._check_choices(value, path, errors):
            self._check_range(value, path, errors)
            self._run_check(value, path, errors)
        return value

    def _validate_float(self, value, path, errors):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self._type_error(value, path, errors)
        value = float(value)
        self._check_range(value, path, errors)
        self._run_check(value, path, errors)
        return value

    def _validate_bool(self, value, path, errors):
        if not isinstance(value, bool):
            return self._type_error(value, path, errors)
        return value

    def _validate_list(self, value, path, errors):
        if not isinstance(value, (list, tuple)):
            return self._type_error(value, path, errors)
        if self.min_items is not None and len(value) < self.min_items:
            errors.append(ConfigError(path, "needs at least %d item(s), has %d" % (self.min_items, len(value))))
        if self.max_items is not None and len(value) > self.max_items:
            errors.append(ConfigError(path, "allows at most %d item(s), has %d" % (self.max_items, len(value))))
        result = []
        for index, item in enumerate(value):
            item_path = join_path(path, index)
            result.append(self.elements.validate(item, item_path, errors) if self.elements else item)
        if self.unique:
            seen = set()
            for index, item in enumerate(result):
                marker = repr(item)
                if marker in seen:
                    errors.append(ConfigError(join_path(path, index), "is listed twice", item))
                seen.add(marker)
        self._run_check(result, path, errors)
        return result

    def _validate_dict(self, value, path, errors):
        if not isinstance(value, dict):
            return self._type_error(value, path, errors)
        result = {}
        for key, item in value.items():
            item_path = join_path(path, key)
            if key not in self.options:
                errors.append(
                    ConfigError(
                        item_path,
                        "is not a known %s%s; known %ss: %s"
                        % (self.key_noun, suggest(key, self.options), self.key_noun, ", ".join(sorted(self.options))),
                    )
                )
                continue
            result[key] = self.options[key].validate(item, item_path, errors)
        for key, option in self.options.items():
            if key in value:
                continue
            if option.required:
                errors.append(ConfigError(join_path(path, key), "is required: %s" % option.description))
            else:
                result[key] = option.default()
        self._run_check(result, path, errors)
        return result

    def _validate_map(self, value, path, errors):
        if not isinstance(value, dict):
            return self._type_error(value, path, errors)
        if self.max_items is not None and len(value) > self.max_items:
            errors.append(ConfigError(path, "allows at most %d entries, has %d" % (self.max_items, len(value))))
        result = {}
        for key, item in value.items():
            item_path = join_path(path, key)
            if not isinstance(key, str):
                errors.append(ConfigError(item_path, "is not a valid name: keys must be strings"))
                continue
            if self.key_pattern is not None and not self.key_pattern.match(key):
                errors.append(
                    ConfigError(item_path, "is not a valid name (must match %s)" % self.key_pattern.pattern)
                )
                continue
            if self.key_choices is not None and key not in self.key_choices:
                errors.append(ConfigError(item_path, "is not one of the known names: %s" % ", ".join(self.key_choices)))
                continue
            if self.values is None:
                result[key] = item
            else:
                # A free-form entry has no pre-merged default: merge its own default first.
                if self.values.kind == "dict" and isinstance(item, dict):
                    item = deep_merge(self.values.default(), item)
                result[key] = self.values.validate(item, item_path, errors)
        self._run_check(result, path, errors)
        return result


class Schema:
    """The top-level variables: a name per variable, each an :class:`Option`."""

    def __init__(self, variables):
        self.variables = variables

    def defaults(self):
        return {name: option.default() for name, option in self.variables.items()}

    def validate(self, user):
        """Merge ``user`` over the defaults and validate.  Returns ``(config, errors)``."""
        errors = []
        config = {}
        for name, option in self.variables.items():
            value = user.get(name, _MISSING)
            if value is _MISSING:
                if option.required:
                    errors.append(ConfigError(name, "is required: %s" % option.description))
                    continue
                value = option.default()
            elif option.kind == "dict" and isinstance(value, dict):
                value = deep_merge(option.default(), value)
            config[name] = option.validate(value, name, errors)
        return config, errors
