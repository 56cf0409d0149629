# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource policies a component shares with others (a bucket's, a KMS key's): the component
owns some statements, the rest (a person's, the account's, another tool's) are kept as they are.
No API calls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

POLICY_VERSION = "2012-10-17"


def policy_statements(policy):
    """The statements of a policy document (or None) as a list."""
    statements = (policy or {}).get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def merged_policy(current, statements, is_ours):
    """The policy to put: the component's ``statements`` first, in their order, then the
    statements others put there (``is_ours(statement)`` false), as they are.

    The order is one for every resource; AWS and ``compare_policies`` give it no meaning, so a
    policy written the other way round by an earlier version is not rewritten for it."""
    foreign = [statement for statement in policy_statements(current) if not is_ours(statement)]
    return {"Version": POLICY_VERSION, "Statement": list(statements) + foreign}
