"""Run a rendered container's own command on this machine, as the kubelet would run it:
its command, its environment with every Secret reference resolved, its ConfigMaps mounted.

Secret references are resolved the way External Secrets writes the Secrets: from an
ExternalSecret's ``data`` (Secrets Manager secret, JSON property) against a Secrets
Manager, here the AWS stand-in, or from values the test gives.
"""

import json
import os
import subprocess


def external_secret_values(external_secrets, secretsmanager):
    """``{(Secret name, key): value}``: what External Secrets would write for ``external_secrets``
    (ExternalSecret objects) from ``secretsmanager`` (a boto3 client)."""
    values = {}
    for external in external_secrets:
        target = external["spec"]["target"]["name"]
        for item in external["spec"]["data"]:
            remote = item["remoteRef"]
            document = secretsmanager.get_secret_value(SecretId=remote["key"])["SecretString"]
            value = json.loads(document)[remote["property"]] if remote.get("property") else document
            values[(target, item["secretKey"])] = value
    return values


def _replaced(text, replace):
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    return text


def environment(container, secret_values, base=None, replace=None):
    """The container's environment over ``base``: plain values (``replace`` applied, as to
    the command), and Secret references from ``secret_values``; a reference that cannot be
    resolved is left out, as a kubelet would refuse to start the container (the tests
    assert on that)."""
    env = dict(base or {})
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = _replaced(variable["value"], replace)
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            if (ref["name"], ref["key"]) in secret_values:
                env[variable["name"]] = secret_values[(ref["name"], ref["key"])]
    return env


def clean_base_environment():
    """This process's environment without libpq's, AWS's or MLflow's variables."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("PG", "AWS_", "MLFLOW_"))}


def command(container, replace=None):
    """The container's command; ``replace``: ``{text: substitute}`` applied to each argument
    (a mount path pointing at a local directory)."""
    return [_replaced(part, replace) for part in container["command"]]


def mount_config_maps(pod_spec, container, config_maps, directory):
    """Write each ConfigMap volume the container mounts into ``directory``/<volume>; return
    ``{mount path: local directory}`` for ``replace``."""
    by_name = dict((c["metadata"]["name"], c) for c in config_maps)
    volumes = dict((v["name"], v) for v in pod_spec.get("volumes") or [])
    replace = {}
    for mount in container.get("volumeMounts") or []:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        local = os.path.join(str(directory), mount["name"])
        os.makedirs(local, exist_ok=True)
        for key, text in by_name[source["name"]]["data"].items():
            with open(os.path.join(local, key), "w") as handle:
                handle.write(text)
        replace[mount["mountPath"]] = local
    return replace


def run(container, secret_values, base=None, replace=None, timeout=120):
    """Run the container's command to completion."""
    return subprocess.run(command(container, replace), env=environment(container, secret_values, base, replace),
                          capture_output=True, text=True, timeout=timeout, check=False)
