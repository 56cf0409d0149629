# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # The options every component module takes from
    # plugins/module_utils/component.py (component_argument_spec), except config,
    # whose text names the component. Keep the two in step.
    DOCUMENTATION = r"""
options:
  environment:
    description:
      - Name of the environment; part of the ownership tags C(mlops.platform/managed),
        C(mlops.platform/environment) and C(mlops.platform/component).
      - Only resources tagged for this environment and component are ever changed.
    type: str
    required: true
  name_prefix:
    description:
      - Prefix of every resource name, as C(mlops_environment.name_prefix) or C(mlops-<environment>).
    type: str
    required: true
  tags:
    description:
      - Tags put on every resource the module creates, with the ownership tags.
      - Missing or different values are set; tags added by other tools are kept.
    type: dict
    default: {}
"""
