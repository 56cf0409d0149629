"""The shared doc fragments say what the shared argument specs take."""

import ast
import glob
import os

import yaml

from ansible_collections.mlops.platform.plugins.doc_fragments.component import ModuleDocFragment
from ansible_collections.mlops.platform.plugins.module_utils.component import component_argument_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _documentation(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path)


def test_the_component_fragment_documents_component_argument_spec_as_it_is():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = component_argument_spec()
    # config is documented by each module: its text names the component.
    assert set(fragment) == set(spec) - {"config"}
    for name, option in fragment.items():
        for key in ("type", "required", "default"):
            assert option.get(key) == spec[name].get(key), (name, key)


def test_every_module_on_component_argument_spec_extends_the_fragment():
    users = [path for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
             if "component_argument_spec(" in open(path, encoding="utf-8").read()]
    assert len(users) >= 6
    for path in users:
        documentation = _documentation(path)
        assert "mlops.platform.component" in documentation.get("extends_documentation_fragment", []), path
        assert not set(documentation["options"]) & {"environment", "name_prefix", "tags"}, path
