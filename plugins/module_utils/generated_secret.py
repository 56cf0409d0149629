# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Secrets Manager secrets whose values the collection generates: one helper for every
component (the database's role passwords, MLflow's admin credentials).

A component's generated secrets live under one name prefix (``<name_prefix>/<component>/``,
inside ``<name_prefix>/*``, which the External Secrets identity may read). One ListSecrets
reads them all. A missing secret is made with a value generated for that create only and
sent with a ClientRequestToken, through ``create_once``: a lost answer never makes a second
secret or a second value. An existing secret's value is never read, returned or rewritten
(a re-run changes nothing; rotation is Secrets Manager's business); only missing ownership
tags are added. One ownership rule: a secret under our name without this environment's
and component's ownership tags is refused, never used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, client_token, create_once, paginate
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned


class GeneratedSecrets:
    """The secrets under ``prefix`` of one environment's ``component``.

    ``read()`` lists them (one ListSecrets); ``owned(name)`` / ``foreign(name)`` say whose a
    listed secret is; ``ensure(name, generate, description, foreign_error)`` makes a missing
    one and returns whether anything changed (in check mode, what would).
    """

    def __init__(self, module, prefix, environment, component, tags):
        self.module = module
        self.client = module.client("secretsmanager", retry_decorator=AWS_RETRY)
        self.once = module.once_client("secretsmanager")
        self.prefix = prefix
        self.environment = environment
        self.component = component
        self.tags = dict(tags)
        self.live = {}  # by name: ListSecrets' entry, its tags as a dict under "tags"

    def read(self):
        listed = paginate(self.client, "list_secrets", "SecretList", Filters=[{"Key": "name", "Values": [self.prefix]}])
        self.live = dict((secret["Name"], dict(secret, tags=boto3_tag_list_to_ansible_dict(secret.get("Tags", []))))
                         for secret in listed if secret["Name"].startswith(self.prefix))
        return self.live

    def owned(self, name):
        secret = self.live.get(name)
        return secret if secret is not None and is_owned(secret["tags"], self.environment, self.component) else None

    def foreign(self, name):
        return name in self.live and self.owned(name) is None

    def arn(self, name):
        return (self.live.get(name) or {}).get("ARN", UNKNOWN)

    def find(self, name):
        """The owned secret ``name`` as it is now (after an unknown create outcome), or None."""
        self.read()
        return self.owned(name)

    def ensure(self, name, generate, description, foreign_error):
        """Make the secret ``name`` if it is missing, its value ``generate()`` (called only when
        the create is sent); add missing ownership tags to an existing one. ``foreign_error()``
        gives the AWSResourceError raised when a secret of that name is not ours."""
        live = self.live.get(name)
        if live is not None:
            if self.foreign(name):
                raise foreign_error()
            missing = compare_aws_tags(live["tags"], self.tags, purge_tags=False)[0]
            if missing and not self.module.check_mode:
                self.client.tag_resource(SecretId=live["ARN"], Tags=ansible_dict_to_boto3_tag_list(missing),
                                         aws_retry=True)
            live["tags"] = dict(live["tags"], **missing)
            return bool(missing)
        if self.module.check_mode:
            self.live[name] = {"Name": name, "ARN": UNKNOWN, "tags": dict(self.tags)}
            return True
        # Generated once per create, and the same for each attempt of it: Secrets Manager
        # returns the first result to a repeat with the same token and value.
        value = generate()
        token = client_token()
        response, found = create_once(
            lambda: self.once.create_secret(Name=name, ClientRequestToken=token, SecretString=value,
                                            Description=description, Tags=ansible_dict_to_boto3_tag_list(self.tags)),
            lambda: self.find(name), exists_codes=("ResourceExistsException",), foreign=foreign_error)
        del value
        self.live[name] = found or {"Name": name, "ARN": response["ARN"], "tags": dict(self.tags)}
        return True
