#!/usr/bin/env bash
# Sets up everything `make test` and `make demo` need on a fresh Debian machine:
# Debian's adb and fastboot, a virtualenv at .venv, and the Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v adb >/dev/null 2>&1 || need_debs+=(adb)
command -v fastboot >/dev/null 2>&1 || need_debs+=(fastboot)
# Optional: headless Chromium renders the HTML report in tests (they skip without it). ~15 s, ~410 MB.
want_chromium=0
command -v chromium >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || want_chromium=1
# the virtual handsets draw their screens with Android's own fonts (Roboto, Droid Sans Fallback for CJK)
[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need_debs+=(fonts-droid-fallback)
[ -d /usr/share/fonts/truetype/roboto ] || need_debs+=(fonts-roboto-unhinted)
# the gateway capture installs its nftables rules through libnftables (no nft command needed)
ldconfig -p 2>/dev/null | grep -q libnftables.so.1 || need_debs+=(libnftables1)
# the analysis's quiet path is one C module (devicelab/analysis/_c), built when the package is installed
command -v gcc >/dev/null 2>&1 || need_debs+=(gcc)
[ -e /usr/include/libdeflate.h ] || need_debs+=(libdeflate-dev)
if [ ${#need_debs[@]} -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "devicelab needs Debian's ${need_debs[*]}; run as root, or: sudo apt-get install -y ${need_debs[*]}" >&2
    exit 1
fi

# Debian's packages, the Python packages and the Allure command line come from three places and do
# not depend on each other: they download side by side, each into its own log
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

debian() {
    [ ${#need_debs[@]} -gt 0 ] || [ "$want_chromium" -eq 1 ] || return 0
    timeout 600 apt-get update -q >/dev/null
    if [ ${#need_debs[@]} -gt 0 ]; then
        echo "installing ${need_debs[*]} from Debian's packages"
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q "${need_debs[@]}" >/dev/null
    fi
    if [ "$want_chromium" -eq 1 ]; then
        echo "installing Debian's chromium (optional: renders the HTML report in tests)"
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends chromium >/dev/null \
          || echo "warning: chromium could not be installed; the report rendering tests will skip" >&2
    fi
}

python_packages() {
    local stamp=.venv/.devicelab-installed
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    # the C module is rebuilt when a source of it is newer than the install
    if [ -f "$stamp" ] && [ -n "$(find devicelab/analysis/_c setup.py -newer "$stamp" -print -quit)" ]; then
        rm -f "$stamp"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "installing Python packages into .venv"
        # uv (from PyPI, into the virtualenv) installs the same versions as pip in a third of the time:
        # ~10 s instead of ~28 s on a fresh machine. Its chatter is shown only when something failed
        local log=.venv/pip-install.log
        if ! { .venv/bin/python -m pip install -q --disable-pip-version-check "uv>=0.5,<1" \
               && .venv/bin/python -m uv pip install -q --python .venv/bin/python -e ".[dev]"; } > "$log" 2>&1; then
            cat "$log" >&2
            return 1
        fi
        .venv/bin/python -c "import devicelab, ppadb, uiautomator2, mitmproxy, allure_pytest, devicelab.analysis._fastpath"
        touch "$stamp"
    fi
}

# Optional: the Allure command line (npm allure-commandline, needs Java) turns allure-results into Allure's
# HTML report. Project-local, never global; ~3 s and 33 MB from the npm registry. Missing -> a note in the run.
allure() {
    local allure_dir=.venv/node
    if [ ! -x "$allure_dir/node_modules/.bin/allure" ] && command -v npm >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
        echo "installing the Allure command line into $allure_dir"
        timeout 300 npm install --prefix "$allure_dir" --no-audit --no-fund --no-save --loglevel=error \
            allure-commandline@2.46.1 >/dev/null \
          || echo "warning: allure-commandline could not be installed; runs will note that Allure HTML is missing" >&2
    fi
}

mkdir -p .venv  # the virtualenv is made into it, beside npm's .venv/node
debian > "$logs/debian" 2>&1 & debian_job=$!
# the Python install compiles the C module: a missing compiler or libdeflate comes from Debian first
case " ${need_debs[*]} " in
    *" gcc "*|*" libdeflate-dev "*) wait "$debian_job" || { cat "$logs/debian"; exit 1; }; debian_job= ;;
esac
python_packages > "$logs/python" 2>&1 & python_job=$!
allure > "$logs/allure" 2>&1 & allure_job=$!
failed=0
[ -z "$debian_job" ] || wait "$debian_job" || failed=1
cat "$logs/debian"
wait "$python_job" || failed=1
cat "$logs/python"
wait "$allure_job" || true  # optional: a warning at most
cat "$logs/allure"
[ "$failed" -eq 0 ] || { echo "bootstrap failed (the output above says where)" >&2; exit 1; }
