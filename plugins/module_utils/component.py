# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every component module shares: its config validated by the one schema, ownership tags.

A component module takes the component's ``config`` block as one option; it is merged
over the schema's defaults and validated here, with the same messages and dotted paths
as the ``configuration`` module, before the module makes any API call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

# Every AWS resource the collection creates carries these tags; a module deletes only
# resources that carry them, for its own environment and component.
MANAGED_TAG = "mlops.platform/managed"
ENVIRONMENT_TAG = "mlops.platform/environment"
COMPONENT_TAG = "mlops.platform/component"
# A resource's stable key within its component (``subnet/private/eu-west-1a``, an alias):
# how a run finds again what it, or an interrupted run before it, created.
KEY_TAG = "mlops.platform/resource"

# What check mode shows for an id or ARN that exists only once the change is made.
UNKNOWN = "(known after apply)"


def is_unknown(value):
    """True for a value an earlier component's check-mode plan could not know yet.

    The plan's value is ``UNKNOWN``, or a string built around it (an ARN formatted from an
    unknown id); a list is unknown when any of its items is.
    """
    if isinstance(value, (list, tuple)):
        return any(is_unknown(item) for item in value)
    return isinstance(value, str) and UNKNOWN in value


def component_argument_spec(**extra):
    """Options shared by the component modules; ``extra`` adds the module's own."""
    spec = dict(
        config=dict(type="dict", default={}),
        environment=dict(type="str", required=True),
        name_prefix=dict(type="str", required=True),
        tags=dict(type="dict", default={}),
    )
    spec.update(extra)
    return spec


def validate_config(module, component, extra_checks=None):
    """``module.params["config"]`` merged over the defaults of ``component`` and validated.

    ``component`` is the component's schema option (e.g. ``config.NETWORK``);
    ``extra_checks(config)`` may return more :class:`ConfigError` objects (paths starting
    with ``config``). Fails the module, listing every problem, when there is any.
    """
    option = component.options["config"]
    errors = []
    config = option.validate(deep_merge(option.default(), module.params["config"] or {}), "config", errors)
    if not errors and extra_checks is not None:
        errors = list(extra_checks(config))
    if errors:
        fail_config(module, errors)
    return config


class ConfigProblems(Exception):
    """Problems found after a read (the live state refuses the configuration), reported like
    the configuration's own: each a ConfigError with its dotted path. Raised anywhere in a
    module's converge, caught once in ``main()`` and given to :func:`fail_config`."""

    def __init__(self, errors):
        super(ConfigProblems, self).__init__("configuration problems")
        self.errors = errors


def fail_config(module, errors):
    """Fail the module with every problem (:class:`ConfigError`), each on its own line."""
    errors = sorted(errors, key=lambda error: error.path)
    module.fail_json(msg="The configuration has %d problem(s):\n%s"
                     % (len(errors), "\n".join("- %s" % error for error in errors)),
                     errors=[error.as_dict() for error in errors])


def managed_tags(environment, component, tags=None):
    """The environment's tags plus the ownership tags of ``component``."""
    result = dict(tags or {})
    result.update({MANAGED_TAG: "true", ENVIRONMENT_TAG: environment, COMPONENT_TAG: component})
    return result


def is_owned(tags, environment, component):
    """True if a resource's tags (a dict) mark it as this environment's ``component``'s."""
    return (tags.get(MANAGED_TAG) == "true" and tags.get(ENVIRONMENT_TAG) == environment
            and tags.get(COMPONENT_TAG) == component)
